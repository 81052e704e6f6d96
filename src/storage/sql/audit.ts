import type { AuditRecord } from '../../domain/audit.js';
import type { Db } from './db.js';

// The audit log is written in the transaction of the change it records, and
// never changed after, with one exception: a replay's or an erasure's entry,
// which its own later batches bring up to date (updateAuditProgress).

/** Returns the new entry's id. */
export async function insertAudit(db: Db, r: AuditRecord): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO audit_log (actor_key_id, actor_name, action, target_type, target_id, changes, account_id)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)
     RETURNING id`,
    [r.actor.keyId, r.actor.name, r.action, r.targetType, r.targetId, JSON.stringify(r.changes), r.accountId],
  );
  return rows[0]!.id;
}

/**
 * A replay or an erasure is walked in batches of a transaction each
 * (services/replays.ts, services/erasure.ts): its entry is written with the
 * first, so a walk that stops part way is audited with what it did, and each
 * later batch sets the counts so far and whether the walk is complete.
 */
export async function updateAuditProgress(
  db: Db,
  id: string,
  action: 'deliveries.replayed' | 'object.erased',
  progress: Record<string, number | boolean>,
): Promise<void> {
  await db.query(`UPDATE audit_log SET changes = changes || $3::jsonb WHERE id = $1 AND action = $2`, [
    id,
    action,
    JSON.stringify(progress),
  ]);
}
