import type { Db } from './db.js';

// What the metrics read from the database, through indexes only: the due
// backlog through delivery_queue_due (held rows, waiting behind another of
// their object, are not due), counted up to a cap so that a huge backlog
// costs a bounded scan, and the webhooks per status through
// webhooks_status_page. The index leads with the account (the claim's fair
// turn needs it), so the oldest due entry is no longer its first row: it is
// taken from the same capped scan, exact up to DUE_COUNT_CAP due deliveries,
// beyond that the oldest of those scanned.

export const DUE_COUNT_CAP = 1_000_000;

export async function queueFigures(db: Db): Promise<{ due: number; oldestDueSeconds: number }> {
  const { rows } = await db.query<{ due: number; oldest: number | null }>(
    `SELECT count(*)::int AS due, extract(epoch FROM now() - min(next_attempt_at))::float8 AS oldest
     FROM (SELECT next_attempt_at FROM delivery_queue WHERE next_attempt_at <= now() AND NOT held LIMIT ${DUE_COUNT_CAP}) due`,
  );
  return { due: rows[0]!.due, oldestDueSeconds: Math.max(0, rows[0]!.oldest ?? 0) };
}

export async function webhookCounts(db: Db): Promise<{ status: string; n: number }[]> {
  const { rows } = await db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM webhooks WHERE deleted_at IS NULL GROUP BY status`,
  );
  return rows;
}
