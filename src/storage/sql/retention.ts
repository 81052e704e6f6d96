import type { Db } from './db.js';

// Retention: events older than the cutoff whose deliveries have all finished
// go, with their deliveries and attempts, a batch at a time. The batch is found
// through events_page (oldest first) and each event's deliveries through
// deliveries_event_webhook; an event with a delivery still in the queue (PENDING) is
// never taken, however old, and asking costs one probe of delivery_queue_event
// per event, whatever the size of the log. A delivery put back in the queue while its batch is being deleted (a
// redelivery) is not deleted (the status is checked again under its row lock),
// and its event's delete then fails on the foreign key: the batch is simply
// tried again next time, without that event.

export interface Pruned {
  events: number;
  deliveries: number;
  attempts: number;
}

const PRUNABLE = `
  SELECT e.id FROM events e
  WHERE e.created_at < $1
    AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.event_id = e.id)
  ORDER BY e.created_at, e.id`;

/** One batch: $1 the cutoff, $2 the batch size (exported for the plan test). */
export const PRUNE_BATCH_SQL = `WITH ev AS (${PRUNABLE} LIMIT $2 FOR UPDATE OF e SKIP LOCKED),
     dl AS (
       SELECT d.id FROM deliveries d JOIN ev ON d.event_id = ev.id
     ), da AS (
       DELETE FROM delivery_attempts a USING dl WHERE a.delivery_id = dl.id RETURNING 1
     ), dd AS (
       DELETE FROM deliveries d USING dl WHERE d.id = dl.id AND d.status <> 'PENDING' RETURNING 1
     ), de AS (
       DELETE FROM events e USING ev WHERE e.id = ev.id RETURNING 1
     )
     SELECT (SELECT count(*) FROM de)::int AS events, (SELECT count(*) FROM dd)::int AS deliveries,
            (SELECT count(*) FROM da)::int AS attempts`;

export async function pruneBatch(db: Db, cutoff: Date, limit: number): Promise<Pruned> {
  const { rows } = await db.query<Pruned>(PRUNE_BATCH_SQL, [cutoff, limit]);
  return rows[0]!;
}

/** What pruning would remove now (hookline prune --dry-run). */
export async function prunable(db: Db, cutoff: Date): Promise<Pruned> {
  const { rows } = await db.query<Pruned>(
    `WITH ev AS (${PRUNABLE})
     SELECT (SELECT count(*) FROM ev)::int AS events,
            (SELECT count(*) FROM deliveries d JOIN ev ON d.event_id = ev.id)::int AS deliveries,
            (SELECT count(*) FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id JOIN ev ON d.event_id = ev.id)::int
              AS attempts`,
    [cutoff],
  );
  return rows[0]!;
}
