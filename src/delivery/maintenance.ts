import type pg from 'pg';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../logger.js';
import { pruneAudit, releaseMaintenanceLock, tryMaintenanceLock } from '../storage/sql/maintenance.js';
import { dropExpiredPreviousSecrets } from '../storage/sql/webhooks.js';

// What workers do besides delivering, once a minute, one instance at a time:
// drop the previous secret or key of rotations whose overlap has ended (sending
// already ignores it; this removes it from storage), and prune the audit log
// past its retention. Batches are small and pause between them.

export const MAINTENANCE_INTERVAL_MS = 60_000;
const BATCH = 2_000;
const PAUSE_MS = 50;

export interface MaintenanceOptions {
  auditRetentionMs: number;
  clock: Clock;
}

export interface MaintenanceReport {
  ran: boolean;
  previousSecretsDropped: number;
  auditPruned: number;
}

export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly opts: MaintenanceOptions,
  ) {}

  start(intervalMs = MAINTENANCE_INTERVAL_MS): void {
    this.timer = setInterval(() => void this.runNow(), intervalMs);
    this.timer.unref();
  }

  /** One round now (unless one is running); resolves with what it did. */
  runNow(): Promise<MaintenanceReport> {
    const round = (this.running ??
      this.round().catch((err: Error) => {
        this.log.warn({ err: err.message }, 'maintenance round failed; the next one tries again');
        return { ran: false, previousSecretsDropped: 0, auditPruned: 0 };
      })) as Promise<MaintenanceReport>;
    this.running = round.finally(() => (this.running = null));
    return round;
  }

  private async round(): Promise<MaintenanceReport> {
    const client = await this.pool.connect();
    try {
      if (!(await tryMaintenanceLock(client))) return { ran: false, previousSecretsDropped: 0, auditPruned: 0 };
      try {
        const previousSecretsDropped = await dropExpiredPreviousSecrets(client);
        const cutoff = new Date(this.opts.clock.now() - this.opts.auditRetentionMs);
        let auditPruned = 0;
        for (;;) {
          const n = await pruneAudit(client, cutoff, BATCH);
          auditPruned += n;
          if (n < BATCH) break;
          await new Promise((r) => setTimeout(r, PAUSE_MS));
        }
        if (previousSecretsDropped || auditPruned) {
          this.log.info({ previousSecretsDropped, auditPruned }, 'maintenance');
        }
        return { ran: true, previousSecretsDropped, auditPruned };
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
