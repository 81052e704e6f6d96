import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import type { EventAction, ResourceType } from '../../domain/catalog.js';
import { Webhook } from './webhook.js';

@Entity('webhook_subscriptions')
export class WebhookSubscription {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid', name: 'webhook_id' })
  webhookId: string;

  @ManyToOne(() => Webhook, (w) => w.subscriptions, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'webhook_id' })
  webhook: Relation<Webhook>;

  @Column('text')
  resource: ResourceType;

  @Column('text')
  action: EventAction;

  @Column({ type: 'timestamptz', name: 'created_at', insert: false, update: false })
  createdAt: Date;
}
