import type pg from 'pg';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logger.js';
import type { Telemetry } from '../telemetry/bus.js';
import { pruneAudit, releaseMaintenanceLock, tryMaintenanceLock } from '../storage/sql/maintenance.js';
import { pruneBatch, type Pruned } from '../storage/sql/retention.js';
import { purgeAccountBatch } from '../storage/sql/accounts.js';
import { releaseOrphans } from '../storage/sql/ordering.js';
import { pruneHourlyStats } from '../storage/sql/stats.js';
import { dropExpiredPreviousSecrets } from '../storage/sql/webhooks.js';

// What workers do besides delivering, once a minute, one instance at a time
// (an advisory lock): prune finished history past HOOKLINE_RETENTION, prune the
// audit log past HOOKLINE_AUDIT_RETENTION, drop the previous secret or key
// of rotations whose overlap has ended (sending already ignores it), and
// release ordered deliveries a crash left held (storage/sql/ordering.ts), and
// drop hourly rollups older than the longest stats window, remove the
// rows of deleted accounts (already invisible to every read), and publish
// webhook notices a crash left in their outbox. Every
// statement removes at most BATCH events (with their deliveries and attempts)
// and a pause follows each, so pruning never holds long locks or starves
// delivery; `hookline prune` runs the same loop on demand.

export const MAINTENANCE_INTERVAL_MS = 60_000;
export const PRUNE_BATCH = 1_000;
const PAUSE_MS = 50;

export interface MaintenanceOptions {
  retentionMs: number;
  auditRetentionMs: number;
  clock: Clock;
  /** Notices a crash left in the outbox (services/notices.ts): published by the next round. */
  notices?: { flush(): Promise<void> };
}

export interface MaintenanceReport {
  ran: boolean;
  pruned: Pruned;
  auditPruned: number;
  previousSecretsDropped: number;
  /** PER_OBJECT deliveries left held with nothing before them (a worker died between a finish and its release). */
  heldReleased: number;
  /** Rows of deleted accounts removed (storage/sql/accounts.ts), and accounts finished. */
  accountsPurged: { events: number; accounts: number };
}

const pause = () => new Promise((r) => setTimeout(r, PAUSE_MS));

/** Prunes finished history older than `cutoff`, batch by batch, until none is left; reports after each batch. */
export async function pruneHistory(
  db: pg.PoolClient | pg.Pool,
  cutoff: Date,
  onBatch: (total: Pruned, batch: Pruned) => void = () => undefined,
): Promise<Pruned> {
  const total: Pruned = { events: 0, deliveries: 0, attempts: 0 };
  for (;;) {
    const batch = await pruneBatch(db, cutoff, PRUNE_BATCH);
    total.events += batch.events;
    total.deliveries += batch.deliveries;
    total.attempts += batch.attempts;
    if (batch.events > 0) onBatch(total, batch);
    if (batch.events < PRUNE_BATCH) return total;
    await pause();
  }
}

/** Removes the rows of deleted accounts, batch by batch, until none is left or what is left is locked. */
export async function purgeDeletedAccounts(db: pg.PoolClient | pg.Pool): Promise<{ events: number; accounts: number }> {
  const total = { events: 0, accounts: 0 };
  for (;;) {
    const batch = await purgeAccountBatch(db, PRUNE_BATCH);
    if (!batch || (batch.events === 0 && !batch.finished)) return total;
    total.events += batch.events;
    if (batch.finished) total.accounts++;
    await pause();
  }
}

export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<MaintenanceReport> | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly telemetry: Telemetry,
    private readonly log: Logger,
    private readonly opts: MaintenanceOptions,
  ) {}

  start(intervalMs = MAINTENANCE_INTERVAL_MS): void {
    this.timer = setInterval(() => void this.runNow(), intervalMs);
    this.timer.unref();
  }

  /** One round now (or the one running); resolves with what it did. */
  runNow(): Promise<MaintenanceReport> {
    this.running ??= this.round()
      .catch((err: Error): MaintenanceReport => {
        this.log.warn({ err: err.message }, 'maintenance round failed; the next one tries again');
        return idle();
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  private async round(): Promise<MaintenanceReport> {
    const client = await this.pool.connect();
    try {
      if (!(await tryMaintenanceLock(client))) return idle();
      try {
        const now = this.opts.clock.now();
        const pruned = await pruneHistory(client, new Date(now - this.opts.retentionMs), (_total, batch) => {
          this.telemetry.emit('pruned', { table: 'events', rows: batch.events });
          this.telemetry.emit('pruned', { table: 'deliveries', rows: batch.deliveries });
          this.telemetry.emit('pruned', { table: 'delivery_attempts', rows: batch.attempts });
        });
        let auditPruned = 0;
        for (;;) {
          const n = await pruneAudit(client, new Date(now - this.opts.auditRetentionMs), PRUNE_BATCH);
          auditPruned += n;
          if (n < PRUNE_BATCH) break;
          await pause();
        }
        if (auditPruned) this.telemetry.emit('pruned', { table: 'audit_log', rows: auditPruned });
        const accountsPurged = await purgeDeletedAccounts(client);
        if (accountsPurged.events) this.telemetry.emit('pruned', { table: 'events', rows: accountsPurged.events });
        const previousSecretsDropped = await dropExpiredPreviousSecrets(client);
        const heldReleased = await releaseOrphans(client);
        await pruneHourlyStats(client);
        await this.opts.notices?.flush();
        if (pruned.events || auditPruned || previousSecretsDropped || heldReleased || accountsPurged.accounts) {
          this.log.info({ pruned, auditPruned, previousSecretsDropped, heldReleased, accountsPurged }, 'maintenance');
        }
        return { ran: true, pruned, auditPruned, previousSecretsDropped, heldReleased, accountsPurged };
      } finally {
        await releaseMaintenanceLock(client);
      }
    } finally {
      client.release();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}

function idle(): MaintenanceReport {
  return {
    ran: false,
    pruned: { events: 0, deliveries: 0, attempts: 0 },
    auditPruned: 0,
    previousSecretsDropped: 0,
    heldReleased: 0,
    accountsPurged: { events: 0, accounts: 0 },
  };
}
