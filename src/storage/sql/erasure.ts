import type { Db } from './db.js';
import type { ObjectKey } from './ordering.js';

// eraseObject (contract revision 3): an object's events (resource and payload
// id, in one account) lose their payload, their attempts' response bodies and
// their pending deliveries. The object's events are walked newest first
// through events_object ((payload ->> 'id'), resource, created_at DESC, id
// DESC) in batches of `limit` index entries, each batch continuing after the
// last one's position (an index bound: no batch rescans what an earlier one
// walked) and each one statement in a transaction of its own. The account is
// tested on the walked rows, not in the index: a batch walks at most `limit`
// events whatever other accounts hold under the same id, so every statement
// is bounded by the batch, never by the object's history.
//
// Locks are taken as the attempt log takes them (deliveries.ts,
// recordAttempts): queue rows first, in delivery_id order, then the log rows.

export interface ErasureTarget {
  accountId: string;
  resource: string;
  objectId: string;
}

export interface ErasurePosition {
  createdAt: Date;
  id: string;
}

export interface ErasureBatch {
  /** Events of the object that still had their payload (now {id} alone; with counting, would be). */
  events: number;
  /** Their pending deliveries, cancelled (or, counting, that would be). */
  deliveriesCancelled: number;
  /** Attempts whose response body was removed (0 when counting). */
  bodiesRemoved: number;
  /** PER_OBJECT objects whose queue rows went: their next held row may go (releaseNext). */
  finishedObjects: ObjectKey[];
  /** Where the next batch starts; null: the walk is over. */
  next: ErasurePosition | null;
}

const START: ErasurePosition = { createdAt: new Date(8.64e15), id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' };

/** The batch's events: $2 object id, $3 resource, $4 limit, after ($5, $6); of account $1 (mine). */
const WALK = `walked AS (
       SELECT e.id, e.account_id, e.created_at, e.erased_at FROM events e
       WHERE (e.payload ->> 'id') = $2 AND e.resource = $3 AND (e.created_at, e.id) < ($5::timestamptz, $6::uuid)
       ORDER BY e.created_at DESC, e.id DESC
       LIMIT $4
     ), mine AS (
       SELECT id, erased_at FROM walked WHERE account_id = $1
     ), last AS (
       SELECT created_at, id FROM walked ORDER BY created_at, id LIMIT 1
     )`;

const params = (t: ErasureTarget, after: ErasurePosition | null, limit: number) => {
  const from = after ?? START;
  return [t.accountId, t.objectId, t.resource, limit, from.createdAt, from.id];
};

interface BatchRow {
  walked: number;
  events: number;
  cancelled: number;
  bodies: number;
  objects: ObjectKey[] | null;
  last_at: Date | null;
  last_id: string | null;
}

function batchOf(r: BatchRow, limit: number): ErasureBatch {
  return {
    events: r.events,
    deliveriesCancelled: r.cancelled,
    bodiesRemoved: r.bodies,
    finishedObjects: r.objects ?? [],
    next: r.walked === limit && r.last_at && r.last_id ? { createdAt: r.last_at, id: r.last_id } : null,
  };
}

/** One batch of the walk: at most `limit` of the object's index entries after `after` (null: from the newest). */
type BatchStatement = (db: Db, t: ErasureTarget, after: ErasurePosition | null, limit: number) => Promise<ErasureBatch>;

/** The dry run's batch: what eraseBatch would do to the same events, changing nothing. */
export const countErasureBatch: BatchStatement = async (db, t, after, limit) => {
  const { rows } = await db.query<BatchRow>(
    `WITH ${WALK}
     SELECT (SELECT count(*) FROM walked)::int AS walked,
            (SELECT count(*) FROM mine WHERE erased_at IS NULL)::int AS events,
            (SELECT count(*) FROM delivery_queue q JOIN mine m ON q.event_id = m.id)::int AS cancelled,
            0 AS bodies, NULL AS objects,
            (SELECT created_at FROM last) AS last_at, (SELECT id FROM last) AS last_id`,
    params(t, after, limit),
  );
  return batchOf(rows[0]!, limit);
};

/**
 * Erases one batch: the payloads of its events still holding one become
 * {"id": objectId} (filter_reach, derived from the payload, goes too), every
 * one of its events' attempts loses its response body (a body recorded after
 * an earlier erasure, by a request that was on the wire then, goes on the
 * next run), and every queue row of its events is deleted with the delivery
 * CANCELLED, a live claim's included: a request already on the wire may
 * finish, and is never retried.
 */
export const eraseBatch: BatchStatement = async (db, t, after, limit) => {
  const { rows } = await db.query<BatchRow>(
    `WITH ${WALK}, erased AS (
       UPDATE events e SET payload = jsonb_build_object('id', $2::text), filter_reach = NULL, erased_at = now()
       FROM mine m WHERE e.id = m.id AND e.erased_at IS NULL
       RETURNING e.id
     ), queued AS (
       SELECT q.delivery_id FROM delivery_queue q JOIN mine m ON q.event_id = m.id
       ORDER BY q.delivery_id FOR UPDATE OF q
     ), gone AS (
       DELETE FROM delivery_queue q USING queued WHERE q.delivery_id = queued.delivery_id
       RETURNING q.delivery_id, q.webhook_id, q.object_key
     ), cancelled AS (
       UPDATE deliveries d SET status = 'CANCELLED', next_attempt_at = NULL
       FROM gone WHERE d.id = gone.delivery_id
       RETURNING d.id
     ), scrubbed AS (
       UPDATE delivery_attempts a SET response_body = NULL
       FROM deliveries d JOIN mine m ON d.event_id = m.id
       WHERE a.delivery_id = d.id AND a.response_body IS NOT NULL
       RETURNING a.id
     )
     SELECT (SELECT count(*) FROM walked)::int AS walked, (SELECT count(*) FROM erased)::int AS events,
            (SELECT count(*) FROM cancelled)::int AS cancelled, (SELECT count(*) FROM scrubbed)::int AS bodies,
            (SELECT json_agg(DISTINCT jsonb_build_object('webhookId', webhook_id, 'objectKey', object_key))
             FROM gone WHERE object_key IS NOT NULL) AS objects,
            (SELECT created_at FROM last) AS last_at, (SELECT id FROM last) AS last_id`,
    params(t, after, limit),
  );
  return batchOf(rows[0]!, limit);
};
