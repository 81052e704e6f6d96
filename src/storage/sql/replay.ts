import type { ReplayScope } from '../../domain/statuses.js';
import type { Db } from './db.js';
import { DUE_CHANNEL } from './channels.js';
import { filterTakes } from './events.js';

// replayDeliveries: a webhook's events of a window [since, until), matched by
// its subscriptions and filters as they are now, chosen by scope:
// - FAILED: those whose delivery ended FAILED;
// - UNDELIVERED: those not received successfully: FAILED or CANCELLED, and
//   those it has no delivery for (it was not subscribed then: a backfill);
// - ALL: every one, delivered or not.
// A delivery still PENDING is never replayed: it is on its way, and replaying
// it would reorder it. Existing deliveries go back into the queue (attempt
// numbers keep counting); missing ones are created. The window is walked in
// batches through events_page, one statement (and transaction) per batch, and
// the batch's queue rows are spread in time (`rate` per second) so a replay of
// a million events is neither one transaction nor one burst: other webhooks
// keep flowing, and this one receives at most `rate` replayed deliveries a
// second. For a PER_OBJECT webhook replays are ordered among themselves (a
// "replay:" lane of their own, storage/sql/ordering.ts) and do not hold back
// its live deliveries. Test events are never replayed, nor erased ones
// (eraseObject: nothing about the object is sent afterwards, replays included).

export interface ReplayWindow {
  webhookId: string;
  since: Date;
  until: Date;
  scope: ReplayScope;
}

export interface ReplayPosition {
  createdAt: Date;
  id: string;
}

const SCOPES: Record<ReplayScope, string> = {
  FAILED: `d.status = 'FAILED'`,
  UNDELIVERED: `(d.id IS NULL OR d.status IN ('FAILED', 'CANCELLED'))`,
  ALL: `(d.id IS NULL OR d.status <> 'PENDING')`,
};

/**
 * The matching events of the window, oldest first; $1 webhook, $2 since, $3
 * until, and with `after` $4/$5 the position to continue from (an index bound,
 * so each batch starts where the last one ended instead of rescanning).
 */
const matching = (scope: ReplayScope, after: boolean) => `
  SELECT e.id, e.resource, e.payload ->> 'id' AS object_id, e.seq, e.created_at, d.id AS delivery_id
  FROM events e
  JOIN webhook_subscriptions s ON s.webhook_id = $1 AND s.resource = e.resource AND s.action = e.action
  LEFT JOIN deliveries d ON d.event_id = e.id AND d.webhook_id = $1
  -- The webhook's own account's events only (its subscriptions carry the account): a backfill of another
  -- account's events would hand one customer's data to another's webhook.
  WHERE e.account_id = s.account_id AND e.created_at >= $2 AND e.created_at < $3 AND NOT e.is_test
    AND e.erased_at IS NULL
    AND ${filterTakes('e', 's', '$1')}
    AND ${SCOPES[scope]}
    ${after ? 'AND (e.created_at, e.id) > ($4::timestamptz, $5::uuid)' : ''}
  ORDER BY e.created_at, e.id`;

/** How many deliveries a replay of the window would queue (the dry run). */
export async function countReplay(db: Db, w: ReplayWindow): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${matching(w.scope, false)}) m`, [
    w.webhookId,
    w.since,
    w.until,
  ]);
  return rows[0]!.n;
}

/**
 * Queues the next batch (at most `limit` events after `after`); its first row
 * is due `queuedBefore / rate` seconds after `start`, the next 1/rate later.
 * Returns how many it queued and where the next batch starts (null: done).
 */
export async function replayBatch(
  db: Db,
  w: ReplayWindow,
  after: ReplayPosition | null,
  limit: number,
  pace: { start: Date; queuedBefore: number; rate: number },
): Promise<{ queued: number; next: ReplayPosition | null }> {
  const { rows } = await db.query<{ queued: number; last_at: Date | null; last_id: string | null; taken: number }>(
    `WITH w AS (
       SELECT id, status = 'ACTIVE' AS active, ordering = 'PER_OBJECT' AS ordered FROM webhooks
       WHERE id = $1 AND deleted_at IS NULL
     ), m AS (
       SELECT m.*, row_number() OVER (ORDER BY m.created_at, m.id) AS n FROM (${matching(w.scope, true)} LIMIT $6) m
     ), due AS (
       SELECT m.*, CASE WHEN w.active THEN $7::timestamptz + (($8 + m.n - 1) / $9::float8) * interval '1 second' END AS at,
              CASE WHEN w.ordered THEN 'replay:' || m.resource || ':' || m.object_id END AS object_key
       FROM m, w
     ), requeued AS (
       UPDATE deliveries d SET status = 'PENDING', next_attempt_at = due.at
       FROM due WHERE d.id = due.delivery_id
       RETURNING d.id, d.event_id, d.attempt_count
     ), created AS (
       INSERT INTO deliveries (event_id, webhook_id, next_attempt_at)
       SELECT due.id, $1, due.at FROM due WHERE due.delivery_id IS NULL
       ON CONFLICT (event_id, webhook_id) DO NOTHING
       RETURNING id, event_id, attempt_count
     ), picked AS (
       SELECT * FROM requeued UNION ALL SELECT * FROM created
     ), newest AS (
       SELECT t.delivery_id FROM (SELECT DISTINCT object_key FROM due WHERE object_key IS NOT NULL) k
       CROSS JOIN LATERAL (
         SELECT delivery_id FROM delivery_queue t WHERE t.webhook_id = $1 AND t.object_key = k.object_key
         ORDER BY t.seq DESC LIMIT 1
       ) t
     ), tails AS (
       -- Locked in delivery_id order, as the attempt log locks (deliveries.ts); one finished meanwhile is
       -- skipped, and then nothing of its object is queued before this row: it is not held.
       SELECT t.object_key FROM delivery_queue t JOIN newest n ON n.delivery_id = t.delivery_id
       ORDER BY t.delivery_id FOR KEY SHARE OF t
     ), queued AS (
       INSERT INTO delivery_queue (delivery_id, webhook_id, account_id, event_id, next_attempt_at, attempt_count, object_key, seq, held)
       SELECT r.id, $1, (SELECT account_id FROM webhooks WHERE id = $1), r.event_id, due.at, r.attempt_count, due.object_key,
              CASE WHEN due.object_key IS NOT NULL THEN coalesce(due.seq, 0) END,
              due.object_key IS NOT NULL AND (
                row_number() OVER (PARTITION BY due.object_key ORDER BY due.seq, due.n) > 1
                OR EXISTS (SELECT 1 FROM tails t WHERE t.object_key = due.object_key))
       FROM picked r JOIN due ON due.id = r.event_id
       -- Made pending meanwhile (a redeliver): it is queued already.
       ON CONFLICT (delivery_id) DO NOTHING
       RETURNING next_attempt_at
     ), notified AS (
       SELECT pg_notify('${DUE_CHANNEL}', '') FROM queued WHERE next_attempt_at IS NOT NULL LIMIT 1
     ), last AS (
       SELECT created_at, id FROM due ORDER BY n DESC LIMIT 1
     )
     SELECT (SELECT count(*) FROM queued)::int AS queued, (SELECT count(*) FROM due)::int AS taken,
            (SELECT created_at FROM last) AS last_at, (SELECT id FROM last) AS last_id
     WHERE (SELECT count(*) FROM notified) >= 0`,
    [
      w.webhookId,
      w.since,
      w.until,
      after?.createdAt ?? new Date(0),
      after?.id ?? '00000000-0000-0000-0000-000000000000',
      limit,
      pace.start,
      pace.queuedBefore,
      pace.rate,
    ],
  );
  const r = rows[0]!;
  const next = r.taken === limit && r.last_at && r.last_id ? { createdAt: r.last_at, id: r.last_id } : null;
  return { queued: r.queued, next };
}
