import type pg from 'pg';
import type { Logger } from '../logger.js';
import {
  recordAttempts,
  type AttemptRecord,
  type RecordedAttempt,
  type WebhookHealth,
} from '../storage/sql/deliveries.js';
import { releaseNext } from '../storage/sql/ordering.js';
import { DEFAULT_CIRCUIT, type CircuitPolicy } from '../domain/protection.js';

// Group commit for the attempt log: while one batch is being written, the
// next one gathers, so under load each statement carries many attempts and at
// low load an attempt is written at once. If the database is unreachable the
// batch is kept and retried; the senders wait, and the worker stops claiming.
// A batch the database refuses for what is in it (not for being away) is
// halved until the attempt at fault is alone, and that one is logged and
// dropped: one bad attempt cannot keep every later one from being written.

const MAX_BATCH = 500;
// A lone attempt waits this long for company before it is written: the feed
// hears of it that much later, and the database gets a tenth of the statements.
const LINGER_MS = 3;

/** SQLSTATE class 22: the data itself is unacceptable, so the same batch would fail forever. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return typeof code === 'string' && code.startsWith('22');
}

/**
 * The database is away, restarting, out of resources or chose this statement
 * as a deadlock's victim: the same batch may well succeed later. Errors
 * without a SQLSTATE are the connection's own (ECONNREFUSED, a reset).
 */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return ['08', '53', '57', '58', '40'].includes(code.slice(0, 2));
}

interface Pending {
  rec: AttemptRecord;
  resolve: (r: RecordedAttempt) => void;
}

export class AttemptRecorder {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly onWritten: (
      batch: { rec: AttemptRecord; id: string; applied: boolean }[],
      health: WebhookHealth[],
    ) => void,
    private readonly circuit: CircuitPolicy = DEFAULT_CIRCUIT,
  ) {}

  record(rec: AttemptRecord): Promise<RecordedAttempt> {
    if (this.closed) return Promise.reject(new Error('the attempt recorder is closed'));
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

  /** Takes no more attempts; resolves once those handed in are written. */
  close(): Promise<void> {
    this.closed = true;
    return this.drain();
  }

  private async flush(): Promise<void> {
    let failures = 0;
    let size = MAX_BATCH;
    while (this.queue.length) {
      const batch = this.queue.slice(0, size);
      try {
        const { attempts, health, finishedObjects } = await recordAttempts(
          this.pool,
          batch.map((p) => p.rec),
          this.circuit,
        );
        this.queue.splice(0, batch.length);
        failures = 0;
        size = MAX_BATCH;
        this.settle(batch, attempts, health);
        // A statement of its own, after the delete (ordering.ts says why). If it fails the attempts stay
        // written: maintenance releases what it would have (releaseOrphans), and the batch is not written twice.
        await releaseNext(this.pool, finishedObjects).catch((err: Error) =>
          this.log.warn({ err: err.message }, 'releasing the next ordered deliveries failed; maintenance will'),
        );
      } catch (err) {
        if (
          isDataError(err) &&
          !batch.every((p) => p.rec.responseBody === null && p.rec.errorMessage === null && !p.rec.responseHeaders)
        ) {
          // Something a destination sent cannot be stored as text: keep the attempts, drop the excerpts.
          this.log.warn(
            { err: (err as Error).message },
            'attempt excerpts could not be stored; recording without them',
          );
          for (const p of batch) p.rec = { ...p.rec, responseBody: null, errorMessage: null, responseHeaders: null };
          continue;
        }
        if (!isTransient(err)) {
          if (batch.length > 1) {
            size = Math.ceil(batch.length / 2);
            continue;
          }
          const [p] = this.queue.splice(0, 1);
          this.log.error(
            { err: (err as Error).message, code: (err as { code?: string }).code, deliveryId: p!.rec.deliveryId },
            'an attempt could not be recorded and was dropped; its delivery is retried after its lease',
          );
          p!.resolve(notApplied(p!.rec));
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

  private settle(batch: Pending[], attempts: RecordedAttempt[], health: WebhookHealth[]): void {
    const byKey = new Map(attempts.map((a) => [`${a.delivery_id}/${a.attempt_number}`, a]));
    const written: { rec: AttemptRecord; id: string; applied: boolean }[] = [];
    for (const p of batch) {
      const r = byKey.get(`${p.rec.deliveryId}/${p.rec.attemptNumber}`);
      if (!r) {
        // Its delivery is gone (pruned with its event, or its webhook's deletion cancelled it first).
        this.log.info({ deliveryId: p.rec.deliveryId }, 'attempt for a delivery that no longer exists: not recorded');
        p.resolve(notApplied(p.rec));
        continue;
      }
      p.resolve(r);
      written.push({ rec: p.rec, id: r.id, applied: r.applied });
    }
    this.onWritten(written, health);
  }
}

function notApplied(rec: AttemptRecord): RecordedAttempt {
  return { id: '', delivery_id: rec.deliveryId, attempt_number: rec.attemptNumber, applied: false };
}
