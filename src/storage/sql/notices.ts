import type { Db } from './db.js';

// The notices' outbox (migrations/1765700000000-Protection.ts): the statement
// that opens or closes a circuit (deliveries.ts, recordAttempts) or disables a
// webhook (webhooks.ts, disableWebhook) writes a row here with the change.
// services/notices.ts turns each row into events in the same transaction as
// it deletes the row, with an idempotency key made of the row's id: a notice
// is published once, whichever instance takes it and whenever it crashes.

export interface PendingNotice {
  id: string;
  webhook_id: string;
  action: 'FAILING' | 'RECOVERED' | 'DISABLED';
  reason: string | null;
  consecutive_failures: number;
  failing_since: Date | null;
  created_at: Date;
  account_id: string;
  name: string;
  destination_url: string;
  status: string;
  /** The webhook may send again (ACTIVE, its circuit closed): a recovery releases its parked rows. */
  sending: boolean;
}

/** The oldest notices not taken by another transaction, locked until this one ends. */
export async function takeNotices(db: Db, limit: number): Promise<PendingNotice[]> {
  const { rows } = await db.query<PendingNotice>(
    `SELECT n.*, w.account_id, w.name, w.destination_url, w.status,
            w.status = 'ACTIVE' AND w.deleted_at IS NULL AND w.circuit_state = 'CLOSED' AS sending
     FROM webhook_notices n JOIN webhooks w ON w.id = n.webhook_id
     ORDER BY n.id LIMIT $1
     FOR UPDATE OF n SKIP LOCKED`,
    [limit],
  );
  return rows;
}

export async function dropNotices(db: Db, ids: string[]): Promise<void> {
  await db.query(`DELETE FROM webhook_notices WHERE id = ANY($1::uuid[])`, [ids]);
}
