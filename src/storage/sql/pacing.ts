import type { Db } from './db.js';
import { DUE_CHANNEL } from './channels.js';

// Releasing many of a webhook's deliveries at once (retryFailedDeliveries, a
// resume after a paused replay) spreads them at `rate` per second, as
// replayDeliveries does (replay.ts): the k-th (from 0) is due k/rate seconds
// from now, so resuming a webhook with 100,000 parked deliveries does not
// hammer its receiver. Each statement reads only that webhook's rows through
// its index (deliveries_webhook_page, delivery_queue_webhook), their events by
// primary key, and sorts them. They go in publish order (events.seq; NULL for
// events older than it, which go first, by time), not the deliveries' ids,
// which carry no order among those created in one statement. Pacing changes only
// when rows are due, never whether they may be claimed: PER_OBJECT order is
// the claim's check (ordering.ts), and due times in seq order keep a row from
// waiting behind a later one of its object.

const PUBLISH_ORDER = 'e.seq NULLS FIRST, e.created_at, e.id';
/**
 * The event of row `r`, by primary key: OFFSET 0 keeps the planner from
 * turning the lookup into a join that walks every event (or queue row).
 */
const eventOf = (r: string) =>
  `(SELECT seq, created_at, id, erased_at FROM events WHERE id = ${r}.event_id OFFSET 0) e`;

/**
 * The webhook's parked deliveries (resumed), paced in publish order. Rows
 * already due or scheduled keep their time.
 */
export async function unparkPaced(db: Db, webhookId: string, rate: number): Promise<void> {
  await db.query(
    `WITH paced AS (
       SELECT q.delivery_id,
              now() + ((row_number() OVER (ORDER BY ${PUBLISH_ORDER}) - 1) / $2::float8) * interval '1 second' AS at
       FROM delivery_queue q CROSS JOIN LATERAL ${eventOf('q')}
       WHERE q.webhook_id = $1 AND q.next_attempt_at IS NULL
     ), u AS (
       UPDATE delivery_queue q SET next_attempt_at = p.at
       FROM paced p WHERE q.delivery_id = p.delivery_id AND q.webhook_id = $1 AND q.next_attempt_at IS NULL
       RETURNING q.delivery_id, q.next_attempt_at
     ), shown AS (
       UPDATE deliveries d SET next_attempt_at = u.next_attempt_at FROM u WHERE d.id = u.delivery_id RETURNING 1
     )
     SELECT pg_notify('${DUE_CHANNEL}', '') FROM (SELECT count(*) AS n FROM shown) c WHERE c.n > 0`,
    [webhookId, rate],
  );
}

/**
 * Every FAILED delivery of the webhook created since `since` back into the
 * queue (attempt numbers keep counting), paced in publish order; parked if
 * the webhook is not ACTIVE. Returns how many. Erased events (eraseObject)
 * are left out: nothing of them is sent again.
 */
export async function retryFailedPaced(db: Db, webhookId: string, since: Date, rate: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH w AS (
       SELECT status = 'ACTIVE' AS active, account_id FROM webhooks WHERE id = $1 AND deleted_at IS NULL
     ), picked AS (
       SELECT d.id, row_number() OVER (ORDER BY ${PUBLISH_ORDER}) - 1 AS k
       FROM deliveries d CROSS JOIN LATERAL ${eventOf('d')}
       WHERE d.webhook_id = $1 AND d.status = 'FAILED' AND d.created_at >= $2 AND e.erased_at IS NULL
     ), d AS (
       UPDATE deliveries d SET status = 'PENDING',
         next_attempt_at = CASE WHEN w.active THEN now() + (p.k / $3::float8) * interval '1 second' END
       FROM picked p, w
       WHERE d.id = p.id AND d.webhook_id = $1 AND d.status = 'FAILED'
       RETURNING d.id, d.webhook_id, w.account_id, d.event_id, d.next_attempt_at, d.attempt_count
     ), q AS (
       INSERT INTO delivery_queue (delivery_id, webhook_id, account_id, event_id, next_attempt_at, attempt_count)
       SELECT id, webhook_id, account_id, event_id, next_attempt_at, attempt_count FROM d
       -- Queued meanwhile (a redeliver): its new time; a claim in flight is then stale when it reports.
       -- A PER_OBJECT row stays in its place in its object's order: due as soon as what precedes it is done.
       ON CONFLICT (delivery_id) DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at, held = false
       RETURNING delivery_id
     ), notified AS (
       SELECT pg_notify('${DUE_CHANNEL}', '') FROM d WHERE d.next_attempt_at IS NOT NULL LIMIT 1
     )
     SELECT count(*)::int AS n FROM q WHERE (SELECT count(*) FROM notified) >= 0`,
    [webhookId, since, rate],
  );
  return rows[0]!.n;
}
