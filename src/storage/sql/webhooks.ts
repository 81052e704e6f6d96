import type { WebhookStatus } from '../../domain/statuses.js';
import type { Db } from './db.js';

// Webhook state changes made by the service and the worker (the ORM handles configuration).

/** PAUSED or ACTIVE by an operator; ACTIVE clears the failure streak. */
export async function setWebhookStatus(
  db: Db,
  id: string,
  status: WebhookStatus,
  reason: string | null,
): Promise<void> {
  await db.query(
    `UPDATE webhooks SET status = $2, status_reason = $3, updated_at = now(),
       failing_since = CASE WHEN $2 = 'ACTIVE' THEN NULL ELSE failing_since END,
       consecutive_failures = CASE WHEN $2 = 'ACTIVE' THEN 0 ELSE consecutive_failures END
     WHERE id = $1 AND deleted_at IS NULL`,
    [id, status, reason],
  );
}

/** Returns true when this call changed the status (so the feed hears it once). */
export async function disableWebhook(db: Db, webhookId: string, reason: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE webhooks SET status = 'DISABLED', status_reason = $2, updated_at = now()
     WHERE id = $1 AND status <> 'DISABLED' AND deleted_at IS NULL`,
    [webhookId, reason],
  );
  return rowCount === 1;
}
