import type { ApiKeyRole } from '../../domain/roles.js';
import { KEYS_CHANNEL } from './channels.js';
import type { Db } from './db.js';
import type { Scope } from '../../domain/accounts.js';

// API key revocation, announced to every process in the same transaction:
// each drops the key from its cache and closes its WebSocket connections
// (server/runtime.ts), so a revoked key stops working everywhere within one
// NOTIFY round trip, whichever process or the CLI revoked it.

/** Revokes the key (idempotent: the first revocation time stays); false when there is no such key. */
export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const { rows } = await db.query(
    `WITH r AS (
       UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id
     )
     SELECT pg_notify('${KEYS_CHANNEL}', r.id::text) FROM r`,
    [id],
  );
  return rows.length === 1;
}

/** lastUsedAt, written at most once a minute per key whichever process sees the use. */
export async function noteKeyUse(db: Db, id: string, at: Date): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = $2
     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`,
    [id, at],
  );
}

/** Returns the new key's id. */
export async function insertApiKey(
  db: Db,
  k: { name: string; role: ApiKeyRole; tokenHash: string; expiresAt: Date | null; accountId: string | null },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    'INSERT INTO api_keys (name, role, token_hash, expires_at, account_id) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    [k.name, k.role, k.tokenHash, k.expiresAt, k.accountId],
  );
  return rows[0]!.id;
}

/** The name, account and revocation of a key, as stored now, or null (also for a key outside the scope). */
export async function apiKeyForRevoke(
  db: Db,
  id: string,
  scope: Scope,
): Promise<{ name: string; accountId: string | null; revokedAt: Date | null } | null> {
  const { rows } = await db.query<{ name: string; accountId: string | null; revokedAt: Date | null }>(
    `SELECT name, account_id AS "accountId", revoked_at AS "revokedAt" FROM api_keys
     WHERE id = $1 AND ($2::uuid IS NULL OR account_id = $2)`,
    [id, scope.accountId],
  );
  return rows[0] ?? null;
}
