import type { AuditRecord } from '../../domain/audit.js';
import type { Db } from './db.js';

// The audit log is written in the transaction of the change it records.

export async function insertAudit(db: Db, r: AuditRecord): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (actor_key_id, actor_name, action, target_type, target_id, changes)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb)`,
    [r.actor.keyId, r.actor.name, r.action, r.targetType, r.targetId, JSON.stringify(r.changes)],
  );
}
