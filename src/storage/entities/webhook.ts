import { Column, Entity, OneToMany, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import type { DeliveryOrdering, WebhookStatus } from '../../domain/statuses.js';
import type { StoredHeader } from '../../domain/headers.js';
import type { CircuitState } from '../../domain/protection.js';
import { WebhookSubscription } from './webhook-subscription.js';

@Entity('webhooks')
export class Webhook {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('text')
  name: string;

  @Column({ type: 'uuid', name: 'account_id' })
  accountId: string;

  @Column({ type: 'text', name: 'destination_url' })
  destinationUrl: string;

  @Column({ type: 'text', name: 'bearer_token', nullable: true })
  bearerToken: string | null;

  @Column({ type: 'text', name: 'hmac_secret', nullable: true })
  hmacSecret: string | null;

  // Secret columns hold sealed text (domain/secret-box.ts), never plain text.
  @Column({ type: 'text', name: 'previous_hmac_secret', nullable: true })
  previousHmacSecret: string | null;

  @Column({ type: 'timestamptz', name: 'previous_hmac_expires_at', nullable: true })
  previousHmacExpiresAt: Date | null;

  @Column({ type: 'text', name: 'signing_key', nullable: true })
  signingKey: string | null;

  @Column({ type: 'text', name: 'signing_public_key', nullable: true })
  signingPublicKey: string | null;

  @Column({ type: 'text', name: 'previous_signing_key', nullable: true })
  previousSigningKey: string | null;

  @Column({ type: 'timestamptz', name: 'previous_signing_expires_at', nullable: true })
  previousSigningExpiresAt: Date | null;

  @Column('text')
  status: WebhookStatus;

  @Column({ type: 'text', default: 'NONE' })
  ordering: DeliveryOrdering;

  @Column({ type: 'boolean', name: 'send_traceparent', default: false })
  sendTraceparent: boolean;

  // Secret values sealed (domain/headers.ts).
  @Column({ type: 'jsonb', default: () => "'[]'" })
  headers: StoredHeader[];
  @Column({ type: 'int', name: 'rate_limit', nullable: true })
  rateLimit: number | null;

  @Column({ type: 'int', name: 'max_in_flight', nullable: true })
  maxInFlight: number | null;

  // The breaker's state: written by the attempt log's statement and the probes (storage/sql), never by the ORM.
  @Column({ type: 'text', name: 'circuit_state', insert: false, update: false })
  circuitState: CircuitState;

  @Column({ type: 'int', name: 'consecutive_failures', insert: false, update: false })
  consecutiveFailures: number;

  @Column({ type: 'timestamptz', name: 'circuit_opened_at', insert: false, update: false })
  circuitOpenedAt: Date | null;

  @Column({ type: 'timestamptz', name: 'circuit_next_probe_at', insert: false, update: false })
  circuitNextProbeAt: Date | null;

  @Column({ type: 'text', name: 'status_reason', nullable: true })
  statusReason: string | null;

  @Column({ type: 'timestamptz', name: 'created_at', insert: false, update: false })
  createdAt: Date;

  @Column({ type: 'timestamptz', name: 'updated_at', insert: false })
  updatedAt: Date;

  @Column({ type: 'timestamptz', name: 'deleted_at', nullable: true, select: false })
  deletedAt: Date | null;

  @OneToMany(() => WebhookSubscription, (s) => s.webhook, { cascade: ['insert'] })
  subscriptions: Relation<WebhookSubscription>[];
}
