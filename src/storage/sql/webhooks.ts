import type { DeliveryOrdering, WebhookStatus } from '../../domain/statuses.js';
import { SERVICE_ACTOR } from '../../domain/audit.js';
import type { Db } from './db.js';
import type { Scope } from '../../domain/accounts.js';
import type { StoredHeader } from '../../domain/headers.js';

// Every write to the webhooks table, by the services and the worker. The ORM
// only reads them (outside any transaction); a change reads the row it changes
// here, in its own transaction (webhookForChange).

/** The columns of a webhook a change reads before it writes; secrets as stored (sealed). */
export interface StoredWebhook {
  id: string;
  accountId: string;
  name: string;
  destinationUrl: string;
  bearerToken: string | null;
  hmacSecret: string | null;
  signingKey: string | null;
  status: WebhookStatus;
  statusReason: string | null;
  ordering: DeliveryOrdering;
  sendTraceparent: boolean;
  /** Secret values sealed. */
  headers: StoredHeader[];
  rateLimit: number | null;
  maxInFlight: number | null;
}

/** A webhook not deleted, as stored now, or null; null too when it is not of the scope's account. */
export async function webhookForChange(db: Db, id: string, scope: Scope): Promise<StoredWebhook | null> {
  const { rows } = await db.query<StoredWebhook>(
    `SELECT id, account_id AS "accountId", name, destination_url AS "destinationUrl", bearer_token AS "bearerToken",
            hmac_secret AS "hmacSecret", signing_key AS "signingKey", status, status_reason AS "statusReason", ordering,
            send_traceparent AS "sendTraceparent", rate_limit AS "rateLimit", max_in_flight AS "maxInFlight", headers
     FROM webhooks WHERE id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR account_id = $2)`,
    [id, scope.accountId],
  );
  return rows[0] ?? null;
}

export interface NewWebhook {
  id: string;
  accountId: string;
  name: string;
  destinationUrl: string;
  bearerToken: string | null;
  hmacSecret: string | null;
  signingKey: string | null;
  signingPublicKey: string | null;
  ordering: DeliveryOrdering;
  sendTraceparent: boolean;
  headers: StoredHeader[];
  rateLimit: number | null;
  maxInFlight: number | null;
}

export async function insertWebhook(db: Db, w: NewWebhook): Promise<void> {
  await db.query(
    `INSERT INTO webhooks (id, account_id, name, destination_url, bearer_token, hmac_secret, signing_key,
                           signing_public_key, status, status_reason, ordering, send_traceparent, rate_limit,
                           max_in_flight, headers)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'ACTIVE', NULL, $9, $10, $11, $12, $13)`,
    [
      w.id,
      w.accountId,
      w.name,
      w.destinationUrl,
      w.bearerToken,
      w.hmacSecret,
      w.signingKey,
      w.signingPublicKey,
      w.ordering,
      w.sendTraceparent,
      w.rateLimit,
      w.maxInFlight,
      JSON.stringify(w.headers),
    ],
  );
  await syncFlow(db, w.id);
}

/** What updateWebhook may change; a key left out keeps its column. */
export interface WebhookConfigChange {
  name?: string;
  destinationUrl?: string;
  ordering?: DeliveryOrdering;
  sendTraceparent?: boolean;
  headers?: StoredHeader[];
  /** null removes the limit. */
  rateLimit?: number | null;
  maxInFlight?: number | null;
  bearerToken?: string | null;
  hmacSecret?: string | null;
  previousHmacSecret?: null;
  previousHmacExpiresAt?: null;
}

const CONFIG_COLUMNS: Record<keyof WebhookConfigChange, string> = {
  name: 'name',
  destinationUrl: 'destination_url',
  ordering: 'ordering',
  sendTraceparent: 'send_traceparent',
  headers: 'headers',
  rateLimit: 'rate_limit',
  maxInFlight: 'max_in_flight',
  bearerToken: 'bearer_token',
  hmacSecret: 'hmac_secret',
  previousHmacSecret: 'previous_hmac_secret',
  previousHmacExpiresAt: 'previous_hmac_expires_at',
};

/** Sets the given columns (and updated_at) of a webhook not deleted. */
export async function updateWebhookConfig(db: Db, id: string, change: WebhookConfigChange): Promise<void> {
  const keys = (Object.keys(change) as (keyof WebhookConfigChange)[]).filter((k) => change[k] !== undefined);
  const sets = keys.map((k, i) => `${CONFIG_COLUMNS[k]} = $${i + 2}`);
  await db.query(
    `UPDATE webhooks SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE id = $1 AND deleted_at IS NULL`,
    // JSON text for jsonb: pg would send an array as a PostgreSQL array.
    [id, ...keys.map((k) => (k === 'headers' ? JSON.stringify(change[k]) : change[k]))],
  );
  if (keys.includes('rateLimit') || keys.includes('maxInFlight')) await syncFlow(db, id);
}

/**
 * A webhook with a limit has a webhook_flow row, the state its claims lock
 * (deliveries.ts, claimDue); one without has none, so its claims pay no lock.
 * A limit set anew starts from an empty window and no claims counted: those
 * made before it are at most one lease's worth, and were within the old rules.
 */
async function syncFlow(db: Db, id: string): Promise<void> {
  await db.query(
    `WITH w AS (
       SELECT id, rate_limit IS NOT NULL OR max_in_flight IS NOT NULL AS limited FROM webhooks WHERE id = $1
     ), added AS (
       INSERT INTO webhook_flow (webhook_id) SELECT id FROM w WHERE limited ON CONFLICT (webhook_id) DO NOTHING
     )
     DELETE FROM webhook_flow f USING w WHERE f.webhook_id = w.id AND NOT w.limited`,
    [id],
  );
}

/** A rotated HMAC secret; the previous one (null: none) signs beside it until previousExpiresAt. */
export async function setHmacSecret(
  db: Db,
  id: string,
  secret: string,
  previous: string | null,
  previousExpiresAt: Date | null,
): Promise<void> {
  await db.query(
    `UPDATE webhooks SET hmac_secret = $2, previous_hmac_secret = $3, previous_hmac_expires_at = $4, updated_at = now()
     WHERE id = $1`,
    [id, secret, previous, previousExpiresAt],
  );
}

/** A rotated ED25519 key pair; the previous private key (null: none) signs beside it until previousExpiresAt. */
export async function setSigningKey(
  db: Db,
  id: string,
  key: string,
  publicKey: string,
  previous: string | null,
  previousExpiresAt: Date | null,
): Promise<void> {
  await db.query(
    `UPDATE webhooks SET signing_key = $2, signing_public_key = $3, previous_signing_key = $4,
       previous_signing_expires_at = $5, updated_at = now()
     WHERE id = $1`,
    [id, key, publicKey, previous, previousExpiresAt],
  );
}

/** Its subscriptions changed: updated_at says when. */
export async function touchWebhook(db: Db, id: string): Promise<void> {
  await db.query('UPDATE webhooks SET updated_at = now() WHERE id = $1', [id]);
}

/** Soft delete: the row stays, for the delivery log that names it. */
export async function softDeleteWebhook(db: Db, id: string): Promise<void> {
  await db.query('UPDATE webhooks SET deleted_at = now(), updated_at = now() WHERE id = $1', [id]);
}

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
       RETURNING w.id, old.status AS was, w.consecutive_failures, w.failing_since
     ), notice AS (
       -- webhook.disabled, written with the change (storage/sql/notices.ts)
       INSERT INTO webhook_notices (webhook_id, action, reason, consecutive_failures, failing_since)
       SELECT id, 'DISABLED', $2, consecutive_failures, failing_since FROM d
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
