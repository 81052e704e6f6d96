import type pg from 'pg';
import type { Logger } from '../logger.js';
import {
  recordAttempts,
  type AttemptRecord,
  type RecordedAttempt,
  type WebhookHealth,
} from '../storage/sql/deliveries.js';

// Group commit for the attempt log: while one batch is being written, the
// next one gathers, so under load each statement carries many attempts and at
// low load an attempt is written at once. If the database is unreachable the
// batch is kept and retried; the senders wait, and the worker stops claiming.

const MAX_BATCH = 500;
// A lone attempt waits this long for company before it is written: the feed
// hears of it that much later, and the database gets a tenth of the statements.
const LINGER_MS = 3;

/** SQLSTATE class 22: the data itself is unacceptable, so the same batch would fail forever. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return typeof code === 'string' && code.startsWith('22');
}

interface Pending {
  rec: AttemptRecord;
  resolve: (r: RecordedAttempt) => void;
}

export class AttemptRecorder {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly onWritten: (
      batch: { rec: AttemptRecord; id: string; applied: boolean }[],
      health: WebhookHealth[],
    ) => void,
  ) {}

  record(rec: AttemptRecord): Promise<RecordedAttempt> {
    return new Promise((resolve) => {
      this.queue.push({ rec, resolve });
      this.flushing ??= new Promise<void>((r) => setTimeout(r, this.queue.length >= 100 ? 0 : LINGER_MS))
        .then(() => this.flush())
        .finally(() => (this.flushing = null));
    });
  }

  /** Resolves once everything handed in so far is written. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    let failures = 0;
    while (this.queue.length) {
      const batch = this.queue.slice(0, MAX_BATCH);
      try {
        const { attempts, health } = await recordAttempts(
          this.pool,
          batch.map((p) => p.rec),
        );
        this.queue.splice(0, batch.length);
        failures = 0;
        const byKey = new Map(attempts.map((a) => [`${a.delivery_id}/${a.attempt_number}`, a]));
        const written = batch.map((p) => {
          const r = byKey.get(`${p.rec.deliveryId}/${p.rec.attemptNumber}`) ?? {
            id: '',
            delivery_id: p.rec.deliveryId,
            attempt_number: p.rec.attemptNumber,
            applied: false,
          };
          p.resolve(r);
          return { rec: p.rec, id: r.id, applied: r.applied };
        });
        this.onWritten(written, health);
      } catch (err) {
        if (isDataError(err) && !batch.every((p) => p.rec.responseBody === null && p.rec.errorMessage === null)) {
          // Something a destination sent cannot be stored as text: keep the attempts, drop the excerpts.
          this.log.warn(
            { err: (err as Error).message },
            'attempt excerpts could not be stored; recording without them',
          );
          for (const p of batch) p.rec = { ...p.rec, responseBody: null, errorMessage: null };
          continue;
        }
        failures++;
        const delay = Math.min(100 * 2 ** failures, 5_000);
        this.log.error(
          { err: (err as Error).message, batch: batch.length, retryInMs: delay },
          'writing attempts failed; retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
