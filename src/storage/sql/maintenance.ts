import type { Db } from './db.js';

// Housekeeping statements, run by one worker at a time across every instance
// (a session-level advisory lock), in small batches so they never hold long
// locks or starve delivery.

const MAINTENANCE_LOCK = 0x686f6f6b; // "hook"

export async function tryMaintenanceLock(db: Db): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MAINTENANCE_LOCK]);
  return rows[0]!.ok;
}

export async function releaseMaintenanceLock(db: Db): Promise<void> {
  await db.query('SELECT pg_advisory_unlock($1)', [MAINTENANCE_LOCK]);
}

/** Deletes up to `limit` of the oldest audit entries before `cutoff` (through audit_log_page); returns how many. */
export async function pruneAudit(db: Db, cutoff: Date, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2)`,
    [cutoff, limit],
  );
  return rowCount ?? 0;
}
