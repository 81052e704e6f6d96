import type pg from 'pg';
import type { Scope } from '../domain/accounts.js';
import type { Actor } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import { formatDuration } from '../domain/duration.js';
import { badInput, notFound } from '../domain/errors.js';
import type { ReplayScope } from '../domain/statuses.js';
import { isUuid } from '../domain/validation.js';
import { insertAudit, updateAuditProgress } from '../storage/sql/audit.js';
import { inTransaction } from '../storage/sql/db.js';
import { MAX_FILTER_COST } from '../domain/filter.js';
import { filterRefusal } from '../storage/sql/events.js';
import { countReplay, replayBatch, type ReplayPosition, type ReplayWindow } from '../storage/sql/replay.js';
import { webhookForChange } from '../storage/sql/webhooks.js';

// replayDeliveries (storage/sql/replay.ts says what each scope selects). The
// window is walked in batches of REPLAY_BATCH events, each in a transaction of
// its own. The first one writes the audit entry and each later one updates its
// count, with complete: false until the last, so a replay interrupted part way
// (a refusal by a later batch, a crash) is audited with what it did queue.
// Running it again with UNDELIVERED sends the rest and nothing twice.

export const REPLAY_BATCH = 1_000;

export interface ReplayRequest {
  webhookId: string;
  since: Date;
  until?: Date | null;
  scope?: ReplayScope | null;
  dryRun?: boolean | null;
}

export class ReplayService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: Clock,
    private readonly opts: { retentionMs: number; ratePerSecond: number },
  ) {}

  async replay(scope: Scope, r: ReplayRequest, actor: Actor): Promise<{ count: number; dryRun: boolean }> {
    const window = this.window(r);
    const webhook = await webhookForChange(this.pool, window.webhookId, scope);
    if (!webhook) throw notFound('webhook', r.webhookId);
    if (r.dryRun) {
      return { count: await countReplay(this.pool, window).catch((e: unknown) => refused(e, null)), dryRun: true };
    }

    const start = new Date(this.clock.now());
    let after: ReplayPosition | null = null;
    let count = 0;
    let auditId: string | null = null;
    for (;;) {
      const batch = await inTransaction(this.pool, async (db) => {
        const b = await replayBatch(db, window, after, REPLAY_BATCH, {
          start,
          queuedBefore: count,
          rate: this.opts.ratePerSecond,
        });
        const total = count + b.queued;
        const complete = !b.next;
        if (auditId === null) {
          const id = await insertAudit(db, {
            actor,
            action: 'deliveries.replayed',
            targetType: 'Webhook',
            targetId: window.webhookId,
            accountId: webhook.accountId,
            changes: {
              scope: window.scope,
              since: window.since.toISOString(),
              until: window.until.toISOString(),
              count: total,
              complete,
            },
          });
          return { ...b, auditId: id };
        }
        await updateAuditProgress(db, auditId, 'deliveries.replayed', { count: total, complete });
        return { ...b, auditId };
      }).catch((e: unknown) => refused(e, count));
      auditId = batch.auditId;
      count += batch.queued;
      if (!batch.next) return { count, dryRun: false };
      after = batch.next;
    }
  }

  private window(r: ReplayRequest): ReplayWindow {
    if (!isUuid(r.webhookId)) throw notFound('webhook', r.webhookId);
    const now = this.clock.now();
    const until = r.until ?? new Date(now);
    const oldest = now - this.opts.retentionMs;
    if (Number.isNaN(r.since.getTime())) throw badInput('since', 'expected an ISO 8601 date-time');
    if (r.since.getTime() < oldest) {
      throw badInput(
        'since',
        `is before the retention period (HOOKLINE_RETENTION = ${formatDuration(this.opts.retentionMs)}): events older than ${new Date(oldest).toISOString()} may be deleted already; choose a later time`,
      );
    }
    if (until.getTime() <= r.since.getTime()) throw badInput('until', 'expected a time after since');
    if (until.getTime() > now) throw badInput('until', 'expected a time not in the future (leave it out for now)');
    return { webhookId: r.webhookId, since: r.since, until, scope: r.scope ?? 'FAILED' };
  }
}

/** A filter too costly for a stored payload (storage/sql/events.ts filterTakes) as the caller's error; others as they are. */
function refused(e: unknown, queued: number | null): never {
  const refusal = filterRefusal(e);
  if (!refusal) throw e;
  throw badInput(
    'webhookId',
    `its filter would cost more than the ${MAX_FILTER_COST} steps one filter may take against the payload of event ${refusal.eventId} ` +
      `(a field of it reaches too many values), so that event cannot be replayed to it: narrow the filter, or replay a window without that event` +
      (queued === null ? '' : ` (${queued} deliveries were queued before it)`),
  );
}
