import type { Db } from './db.js';

// Webhook.stats: figures of many webhooks over the last `hours` hours at once,
// from webhook_hourly_stats (maintained by recordAttempts, deliveries.ts)
// through its primary key, and their pending deliveries from the
// delivery_queue_webhook index. Hours without attempts are part of the answer.

export interface HourRow {
  webhook_id: string;
  hour: Date;
  attempts: number;
  succeeded: number;
  failed: number;
  duration_ms: number;
  last_attempt_at: Date | null;
}

export interface PendingRow {
  webhook_id: string;
  pending: number;
  oldest_at: Date | null;
}

/** One row per webhook and hour of the window (oldest first), zeros where nothing was attempted. */
export async function hourlyStats(db: Db, webhookIds: string[], hours: number): Promise<HourRow[]> {
  const { rows } = await db.query<HourRow>({
    name: 'hookline-hourly-stats',
    text: `SELECT w.id AS webhook_id, h.hour, coalesce(s.attempts, 0) AS attempts, coalesce(s.succeeded, 0) AS succeeded,
                  coalesce(s.failed, 0) AS failed, coalesce(s.duration_ms, 0)::float8 AS duration_ms,
                  s.last_attempt_at
           FROM unnest($1::uuid[]) AS w(id)
           CROSS JOIN generate_series(date_trunc('hour', now()) - ($2::int - 1) * interval '1 hour',
                                      date_trunc('hour', now()), interval '1 hour') AS h(hour)
           LEFT JOIN webhook_hourly_stats s ON s.webhook_id = w.id AND s.hour = h.hour
           ORDER BY w.id, h.hour`,
    values: [webhookIds, hours],
  });
  return rows;
}

/** How many deliveries each webhook has waiting, and when the oldest of them was created. */
export async function pendingOf(db: Db, webhookIds: string[]): Promise<PendingRow[]> {
  const { rows } = await db.query<PendingRow>({
    name: 'hookline-pending-of',
    // Time-ordered ids: the smallest is the oldest (PostgreSQL has no min(uuid); text sorts the same).
    text: `SELECT p.webhook_id, p.pending, d.created_at AS oldest_at
           FROM (SELECT webhook_id, count(*)::int AS pending, min(delivery_id::text)::uuid AS oldest_id
                 FROM delivery_queue WHERE webhook_id = ANY($1::uuid[]) GROUP BY webhook_id) p
           LEFT JOIN deliveries d ON d.id = p.oldest_id`,
    values: [webhookIds],
  });
  return rows;
}

/** Rollups older than the longest window: removed by maintenance. */
export async function pruneHourlyStats(db: Db): Promise<number> {
  const { rowCount } = await db.query(`DELETE FROM webhook_hourly_stats WHERE hour < now() - interval '721 hours'`);
  return rowCount ?? 0;
}
