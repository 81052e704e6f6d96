import type { AttemptOutcome } from '../domain/outcome.js';
import type { DeliveryStatus, WebhookStatus } from '../domain/statuses.js';

// What the live feed carries: small summaries, never secrets or bodies, so a
// notice fits in one PostgreSQL NOTIFY (8000 bytes) with room to spare.

export interface AttemptNotice {
  id: string;
  deliveryId: string;
  webhookId: string;
  accountId: string;
  eventId: string;
  attemptNumber: number;
  outcome: AttemptOutcome;
  responseStatus: number | null;
  errorMessage: string | null;
  durationMs: number;
  startedAt: string;
  deliveryStatus: DeliveryStatus;
  nextAttemptAt: string | null;
  /** Only when the attempt is in a trace: a notice without one stays as short as before. */
  traceId?: string;
}

export interface WebhookStatusNotice {
  webhookId: string;
  accountId: string;
  status: WebhookStatus;
  reason: string | null;
}

/** Where services and workers report what happened; the live feed subscribes to it. */
export interface FeedPublisher {
  attempts(notices: AttemptNotice[]): void;
  webhookStatus(notice: WebhookStatusNotice): void;
}
