import type { WebhookHealth } from '../storage/sql/deliveries.js';

/**
 * Failed attempts in a row per webhook, as this worker knows them ahead of
 * the database: the streak the last written batch returned, plus this
 * worker's failures answered since and not yet written. At the breaker's
 * threshold the worker starts no more of that webhook's deliveries (probes
 * aside) until the batch that opens its circuit is written; from then on the
 * send gate hands them back (the circuit raised the webhook's version).
 *
 * Measured (test/delivery/breaker.test.ts, a destination answering 500 at
 * once): 34 requests before its circuit opened with no local count; 27 when
 * a written batch reset the count to zero, since the failures still waiting
 * to be written were forgotten; at most threshold + perWebhook − 1 with both
 * parts kept.
 */
export class FailureStreaks {
  private readonly streaks = new Map<string, { written: number; unwritten: number }>();

  constructor(private readonly threshold: number) {}

  /** An attempt was answered (not yet written). */
  answered(webhookId: string, succeeded: boolean): void {
    if (succeeded) {
      this.streaks.delete(webhookId);
      return;
    }
    const s = this.streaks.get(webhookId);
    if (s) s.unwritten += 1;
    else this.streaks.set(webhookId, { written: 0, unwritten: 1 });
  }

  /**
   * A batch was written: its failures are now in the streaks the database
   * returned. Streaks another worker reset (a success of its own) come back
   * lower; an opened circuit is the send gate's from here.
   */
  written(failed: Iterable<string>, health: WebhookHealth[]): void {
    for (const id of failed) {
      const s = this.streaks.get(id);
      if (s && s.unwritten > 0) s.unwritten -= 1;
    }
    for (const h of health) {
      const s = this.streaks.get(h.id);
      if (!s) continue;
      if (h.circuit !== 'CLOSED' || (h.consecutive_failures === 0 && s.unwritten === 0)) this.streaks.delete(h.id);
      else s.written = h.consecutive_failures;
    }
  }

  /** Whether this webhook's next deliveries wait for its circuit to open. */
  tripping(webhookId: string): boolean {
    const s = this.streaks.get(webhookId);
    return s !== undefined && s.written + s.unwritten >= this.threshold;
  }

  /** Whether no webhook is failing (the pump's fast check). */
  get empty(): boolean {
    return this.streaks.size === 0;
  }
}
