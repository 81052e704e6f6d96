import type { WebhookStatus } from '../../domain/statuses.js';
import { SERVICE_ACTOR } from '../../domain/audit.js';
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

/**
 * The service disables a webhook (410 Gone, a failure streak) and records it in
 * the audit log, in one statement. Returns true when this call changed the
 * status (so the feed hears it once).
 */
export async function disableWebhook(db: Db, webhookId: string, reason: string): Promise<boolean> {
  const { rows } = await db.query(
    `WITH d AS (
       UPDATE webhooks w SET status = 'DISABLED', status_reason = $2, updated_at = now()
       FROM webhooks old
       WHERE w.id = $1 AND old.id = w.id AND w.status <> 'DISABLED' AND w.deleted_at IS NULL
       RETURNING w.id, old.status AS was
     )
     INSERT INTO audit_log (actor_key_id, actor_name, action, target_type, target_id, changes)
     SELECT NULL, $3, 'webhook.disabled', 'Webhook', d.id,
            jsonb_build_object('status', jsonb_build_object('old', d.was, 'new', 'DISABLED'), 'statusReason', jsonb_build_object('new', $2::text))
     FROM d
     RETURNING target_id`,
    [webhookId, reason, SERVICE_ACTOR.name],
  );
  return rows.length === 1;
}

/** A rotation's overlap has ended: the previous secret and key are no longer kept. */
export async function dropExpiredPreviousSecrets(db: Db): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE webhooks SET
       previous_hmac_secret = CASE WHEN previous_hmac_expires_at <= now() THEN NULL ELSE previous_hmac_secret END,
       previous_hmac_expires_at = CASE WHEN previous_hmac_expires_at <= now() THEN NULL ELSE previous_hmac_expires_at END,
       previous_signing_key = CASE WHEN previous_signing_expires_at <= now() THEN NULL ELSE previous_signing_key END,
       previous_signing_expires_at = CASE WHEN previous_signing_expires_at <= now() THEN NULL ELSE previous_signing_expires_at END
     WHERE previous_hmac_expires_at <= now() OR previous_signing_expires_at <= now()`,
  );
  return rowCount ?? 0;
}

/**
 * Holds a webhook's row until the transaction ends, so a read-modify-write of
 * its secrets (a rotation keeps the current one as the previous) sees the last
 * committed rotation, not one a concurrent rotation is about to overwrite.
 */
export async function lockWebhook(db: Db, id: string): Promise<void> {
  await db.query('SELECT 1 FROM webhooks WHERE id = $1 AND deleted_at IS NULL FOR UPDATE', [id]);
}

export async function webhookExists(db: Db, id: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM webhooks WHERE id = $1 AND deleted_at IS NULL', [id]);
  return rows.length > 0;
}
