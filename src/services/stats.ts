import type pg from 'pg';
import { badInput } from '../domain/errors.js';
import { hourlyStats, pendingOf } from '../storage/sql/stats.js';

// Webhook.stats, for many webhooks at once (the request's DataLoader batches a
// page of them into two statements).

export const DEFAULT_STATS_HOURS = 24;
export const MAX_STATS_HOURS = 720;

export interface HourlyFigures {
  hour: Date;
  attempts: number;
  succeeded: number;
  failed: number;
}

export interface WebhookFigures {
  hours: number;
  attempts: number;
  succeeded: number;
  failed: number;
  successRate: number | null;
  averageDurationMs: number | null;
  pendingDeliveries: number;
  oldestPendingAt: Date | null;
  lastAttemptAt: Date | null;
  hourly: HourlyFigures[];
}

export function validHours(hours: number | null | undefined): number {
  const h = hours ?? DEFAULT_STATS_HOURS;
  if (!Number.isInteger(h) || h < 1 || h > MAX_STATS_HOURS) {
    throw badInput('hours', `expected a whole number of hours from 1 to ${MAX_STATS_HOURS}, got ${h}`);
  }
  return h;
}

export class StatsService {
  constructor(private readonly pool: pg.Pool) {}

  async forWebhooks(webhookIds: readonly string[], hours: number): Promise<WebhookFigures[]> {
    const ids = [...webhookIds];
    const [hourRows, pendingRows] = await Promise.all([hourlyStats(this.pool, ids, hours), pendingOf(this.pool, ids)]);
    const pending = new Map(pendingRows.map((p) => [p.webhook_id, p]));
    const byWebhook = new Map<string, typeof hourRows>();
    for (const r of hourRows) byWebhook.set(r.webhook_id, [...(byWebhook.get(r.webhook_id) ?? []), r]);
    return ids.map((id) => {
      const rows = byWebhook.get(id) ?? [];
      const sum = (k: 'attempts' | 'succeeded' | 'failed' | 'duration_ms') => rows.reduce((n, r) => n + r[k], 0);
      const attempts = sum('attempts');
      return {
        hours,
        attempts,
        succeeded: sum('succeeded'),
        failed: sum('failed'),
        successRate: attempts ? sum('succeeded') / attempts : null,
        averageDurationMs: attempts ? sum('duration_ms') / attempts : null,
        pendingDeliveries: pending.get(id)?.pending ?? 0,
        oldestPendingAt: pending.get(id)?.oldest_at ?? null,
        lastAttemptAt: rows.reduce<Date | null>(
          (last, r) => (r.last_attempt_at && (!last || r.last_attempt_at > last) ? r.last_attempt_at : last),
          null,
        ),
        hourly: rows.map((r) => ({ hour: r.hour, attempts: r.attempts, succeeded: r.succeeded, failed: r.failed })),
      };
    });
  }
}
