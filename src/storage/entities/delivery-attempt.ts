import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { AttemptOutcome } from '../../domain/outcome.js';
import type { AttemptTimings } from '../../domain/forensics.js';

@Entity('delivery_attempts')
export class DeliveryAttempt {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ type: 'uuid', name: 'delivery_id' })
  deliveryId: string;

  @Column({ type: 'uuid', name: 'webhook_id' })
  webhookId: string;

  @Column({ type: 'uuid', name: 'event_id' })
  eventId: string;

  @Column({ type: 'integer', name: 'attempt_number' })
  attemptNumber: number;

  @Column('text')
  outcome: AttemptOutcome;

  @Column({ type: 'integer', name: 'response_status', nullable: true })
  responseStatus: number | null;

  @Column({ type: 'text', name: 'response_body', nullable: true })
  responseBody: string | null;

  @Column({ type: 'text', name: 'error_message', nullable: true })
  errorMessage: string | null;

  @Column({ type: 'integer', name: 'duration_ms' })
  durationMs: number;

  @Column({ type: 'timestamptz', name: 'started_at' })
  startedAt: Date;

  @Column({ type: 'text', name: 'trace_id', nullable: true })
  traceId: string | null;

  @Column({ type: 'text', name: 'remote_address', nullable: true })
  remoteAddress: string | null;

  @Column({ type: 'jsonb', name: 'response_headers', nullable: true })
  responseHeaders: Record<string, string> | null;

  @Column({ type: 'jsonb', nullable: true })
  timings: AttemptTimings | null;
}
