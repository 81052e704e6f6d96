import { Column, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import type { EventAction, ResourceType } from '../../domain/catalog.js';
import type { FilterTerm } from '../../domain/filter.js';
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

  /** The filter as given; filter_path is its compiled SQL/JSON path (domain/filter.ts). */
  @Column({ type: 'jsonb', nullable: true })
  filter: object | null;

  // A jsonpath column: TypeORM has no such type, and the parameter is sent untyped, so the server parses it.
  @Column({ type: 'text', name: 'filter_path', nullable: true, select: false })
  filterPath: string | null;

  /** What the filter costs per field (domain/filter.ts FilterTerm), priced by the publishing statement. */
  @Column({ type: 'jsonb', name: 'filter_terms', nullable: true, select: false })
  filterTerms: FilterTerm[] | null;

  @Column({ type: 'timestamptz', name: 'created_at', insert: false, update: false })
  createdAt: Date;
}
