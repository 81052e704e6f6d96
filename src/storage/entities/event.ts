import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { EventAction, ResourceType } from '../../domain/catalog.js';

@Entity('events')
export class Event {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid', name: 'account_id' })
  accountId: string;

  @Column('text')
  resource: ResourceType;

  @Column('text')
  action: EventAction;

  @Column('text')
  type: string;

  @Column({ type: 'jsonb', default: {} })
  payload: Record<string, unknown>;

  @Column({ type: 'timestamptz', name: 'occurred_at' })
  occurredAt: Date;

  @Column({ type: 'timestamptz', name: 'created_at', insert: false, update: false })
  createdAt: Date;

  @Column({ type: 'text', name: 'idempotency_key', nullable: true })
  idempotencyKey: string | null;

  @Column({ type: 'boolean', name: 'is_test', default: false })
  isTest: boolean;

  /** Set when eraseObject replaced the payload by {id} alone (storage/sql/erasure.ts). */
  @Column({ type: 'timestamptz', name: 'erased_at', nullable: true, insert: false })
  erasedAt: Date | null;
  /** The event's trace context, a W3C traceparent (telemetry/tracing.ts); null for events stored before traces. */
  @Column({ type: 'text', name: 'trace_parent', nullable: true })
  traceParent: string | null;
}
