import type { Db } from './db.js';
import { DUE_CHANNEL } from './channels.js';

// Ordered delivery per object (webhooks.ordering = PER_OBJECT). The queue rows
// of such a webhook carry object_key ("COURSES:42"; "replay:COURSES:42" for
// replays, a lane of their own) and seq (events.seq: publish order).
//
// Correctness rests on one check, made by the claim (deliveries.ts, claimDue):
// a row with an object_key is claimed only if no queue row of the same webhook
// and object_key has a lower seq. A row leaves the queue only when its delivery
// has SUCCEEDED or ended FAILED (or is cancelled), and a retrying or in-flight
// row stays, so the next event's first attempt cannot start before the previous
// one is over. Under concurrent claimers this holds because:
// - the predecessor is a committed row that the claim's snapshot sees: a row
//   with a lower seq was inserted by a statement that took its sequence number
//   first, and for events published one after the other (the first publish
//   answered before the second began) it committed first, so any snapshot
//   that sees the later row sees the earlier one, until it is deleted;
// - a claim never deletes: it only pushes next_attempt_at forward, under
//   FOR UPDATE SKIP LOCKED, so two claimers can at worst both skip a row,
//   never both take rows of one object whose order they disagree on.
// Events about one object published concurrently (neither publish answered
// before the other began) have no publish order: their seq decides, and if the
// higher one commits first it may be sent first.
//
// `held` is only about cost: a row waiting behind another of its object is
// left out of the due index, so a chain of ten thousand events behind a failing
// one costs the claim nothing. Publishing holds a new row when its object
// already has a row in the queue (taking FOR KEY SHARE on that object's newest
// row), and each finished row releases the oldest held row of its object in a
// statement of its own, after the delete: if a publish holds the lock, the
// delete waits for it to commit, and the release's fresh snapshot then sees the
// row it held. A release that finds nothing, or a worker that died between the
// two statements, leaves a held row whose object has nothing before it:
// maintenance releases those (releaseOrphans). Holding is never what keeps
// order; the claim's check is.

export interface ObjectKey {
  webhookId: string;
  objectKey: string;
}

/** After deliveries finished: the oldest held row of each of their objects may go. */
export async function releaseNext(db: Db, keys: ObjectKey[]): Promise<number> {
  if (keys.length === 0) return 0;
  const { rows } = await db.query<{ n: number }>({
    name: 'hookline-release-next',
    text: `WITH k AS (
       SELECT DISTINCT * FROM unnest($1::uuid[], $2::text[]) AS k(webhook_id, object_key)
     ), first AS (
       SELECT f.delivery_id FROM k
       CROSS JOIN LATERAL (
         SELECT delivery_id, held FROM delivery_queue q
         WHERE q.webhook_id = k.webhook_id AND q.object_key = k.object_key
         ORDER BY q.seq LIMIT 1
       ) f
       WHERE f.held
     ), released AS (
       UPDATE delivery_queue q SET held = false FROM first
       WHERE q.delivery_id = first.delivery_id AND q.held
       RETURNING q.next_attempt_at
     ), notified AS (
       SELECT pg_notify('${DUE_CHANNEL}', '') FROM released WHERE next_attempt_at IS NOT NULL LIMIT 1
     )
     SELECT (SELECT count(*) FROM released)::int AS n WHERE (SELECT count(*) FROM notified) >= 0`,
    values: [keys.map((k) => k.webhookId), keys.map((k) => k.objectKey)],
  });
  return rows[0]?.n ?? 0;
}

/**
 * Held rows with nothing before them in their object (a release lost to a
 * crash between a finish and its release): released. Run by maintenance.
 */
export async function releaseOrphans(db: Db): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE delivery_queue f SET held = false
     WHERE f.held AND NOT EXISTS (
       SELECT 1 FROM delivery_queue p
       WHERE p.webhook_id = f.webhook_id AND p.object_key = f.object_key AND p.seq < f.seq
     )`,
  );
  return rowCount ?? 0;
}

/**
 * A webhook's ordering changed: its pending deliveries that have not started
 * follow the new rule (started ones finish as they began). To PER_OBJECT: they
 * get their object and seq and the claim orders them; to NONE: they lose them.
 */
export async function applyOrdering(db: Db, webhookId: string, perObject: boolean): Promise<void> {
  if (perObject) {
    await db.query(
      `UPDATE delivery_queue q SET object_key = e.resource || ':' || (e.payload ->> 'id'), seq = coalesce(e.seq, 0), held = false
       FROM events e
       WHERE q.webhook_id = $1 AND q.object_key IS NULL AND q.attempt_count = 0 AND e.id = q.event_id AND NOT e.is_test`,
      [webhookId],
    );
  } else {
    await db.query(
      `WITH u AS (
         UPDATE delivery_queue SET object_key = NULL, seq = NULL, held = false
         WHERE webhook_id = $1 AND object_key IS NOT NULL
         RETURNING next_attempt_at
       )
       SELECT pg_notify('${DUE_CHANNEL}', '') FROM u WHERE next_attempt_at IS NOT NULL LIMIT 1`,
      [webhookId],
    );
  }
}
