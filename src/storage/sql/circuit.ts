import type { Db } from './db.js';
import { DUE_CHANNEL } from './channels.js';

// The breaker's probes. While a circuit is open the claim parks the webhook's
// rows (claim.ts, sendableRow); when its probe is due, this statement picks
// the oldest waiting row (parked or due: never one in flight or scheduled
// later), marks it as the probe, makes it due, and moves the circuit to
// HALF_OPEN until the probe's lease ends, so a probe lost with its worker is
// replaced after it. An open circuit with nothing waiting keeps its interval.
// Webhooks whose circuit is not closed are found by webhooks_probe_due; the
// row by delivery_queue_webhook, in id order (uuid v7: creation order).

/** Circuits probed per statement at most; the next poll takes the rest. */
const PROBES_PER_STATEMENT = 20;

/** Starts the probes that are due; returns how many. */
export async function startProbes(db: Db, leaseMs: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH due AS (
       SELECT w.id FROM webhooks w
       WHERE w.circuit_state <> 'CLOSED' AND w.circuit_next_probe_at <= now()
         AND w.status = 'ACTIVE' AND w.deleted_at IS NULL
       ORDER BY w.circuit_next_probe_at LIMIT ${PROBES_PER_STATEMENT}
       FOR NO KEY UPDATE OF w SKIP LOCKED
     ), pick AS (
       SELECT d.id AS webhook_id, p.delivery_id FROM due d LEFT JOIN LATERAL (
         SELECT q.delivery_id FROM delivery_queue q
         WHERE q.webhook_id = d.id AND NOT q.held AND (q.next_attempt_at IS NULL OR q.next_attempt_at <= now())
         ORDER BY q.delivery_id LIMIT 1
       ) p ON true
     ), probing AS (
       UPDATE delivery_queue q SET probe = true, next_attempt_at = now()
       FROM pick p WHERE q.delivery_id = p.delivery_id
       RETURNING q.delivery_id
     ), moved AS (
       UPDATE webhooks w SET
         circuit_state = CASE WHEN p.delivery_id IS NULL THEN w.circuit_state ELSE 'HALF_OPEN' END,
         circuit_next_probe_at = now() + CASE WHEN p.delivery_id IS NULL THEN coalesce(w.circuit_probe_ms, $1)
                                              ELSE $1 END * interval '1 millisecond'
       FROM pick p WHERE w.id = p.webhook_id
       RETURNING p.delivery_id IS NOT NULL AS probing
     ), notified AS (
       SELECT pg_notify('${DUE_CHANNEL}', '') FROM probing LIMIT 1
     )
     SELECT count(*) FILTER (WHERE probing)::int AS n FROM moved WHERE (SELECT count(*) FROM notified) >= 0`,
    [leaseMs],
  );
  return rows[0]!.n;
}
