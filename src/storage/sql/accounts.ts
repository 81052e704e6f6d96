import { DEFAULT_ACCOUNT_KEY } from '../../domain/accounts.js';
import { KEYS_CHANNEL } from './channels.js';
import type { Db } from './db.js';

// Accounts: creation, renaming, deletion and the purge that follows it. A
// deletion is one transaction that makes everything of the account vanish
// from every read at once: the account is marked deleted (reads leave out
// what belongs to a deleted account), its webhooks are deleted (the send
// gate stops what is claimed, delivery/send-gate.ts), its scoped keys are
// revoked and announced (every process forgets them within one NOTIFY). The
// rows themselves go afterwards, a batch per statement (purgeAccountBatch),
// run by maintenance.

export interface StoredAccount {
  id: string;
  key: string;
  name: string;
}

/** Returns the new account's id; throws the unique violation accounts_key when a live account has the key. */
export async function insertAccount(db: Db, key: string, name: string): Promise<string> {
  const { rows } = await db.query<{ id: string }>('INSERT INTO accounts (key, name) VALUES ($1, $2) RETURNING id', [
    key,
    name,
  ]);
  return rows[0]!.id;
}

/**
 * The live accounts of these keys, those missing created (named after their
 * key). Two statements: the second one's snapshot sees an account another
 * publish created at the same moment (the insert waited for it to commit).
 */
export async function ensureAccounts(db: Db, keys: readonly string[]): Promise<StoredAccount[]> {
  await db.query(
    `INSERT INTO accounts (key, name) SELECT k, k FROM unnest($1::text[]) k
     ON CONFLICT (key) WHERE deleted_at IS NULL DO NOTHING`,
    [keys],
  );
  const { rows } = await db.query<StoredAccount>(
    'SELECT id, key, name FROM accounts WHERE key = ANY($1::text[]) AND deleted_at IS NULL',
    [keys],
  );
  return rows;
}

/** The id of the live account with this key, or null. */
export async function liveAccountByKey(db: Db, key: string): Promise<string | null> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM accounts WHERE key = $1 AND deleted_at IS NULL', [
    key,
  ]);
  return rows[0]?.id ?? null;
}

/** A live account, locked for the change, or null. */
export async function accountForChange(db: Db, id: string): Promise<StoredAccount | null> {
  const { rows } = await db.query<StoredAccount>(
    'SELECT id, key, name FROM accounts WHERE id = $1 AND deleted_at IS NULL FOR UPDATE',
    [id],
  );
  return rows[0] ?? null;
}

/** The account exists and is not deleted, locked against deletion until the change commits. */
export async function liveAccount(db: Db, id: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM accounts WHERE id = $1 AND deleted_at IS NULL FOR SHARE', [id]);
  return rows.length === 1;
}

export async function renameAccount(db: Db, id: string, name: string): Promise<void> {
  await db.query('UPDATE accounts SET name = $2, updated_at = now() WHERE id = $1', [id, name]);
}

/** Marks the account deleted, deletes its webhooks, revokes its keys (announced); counts what it hid. */
export async function markAccountDeleted(db: Db, id: string): Promise<{ webhooks: number; apiKeys: number }> {
  const { rows } = await db.query<{ webhooks: number; api_keys: number }>(
    `WITH a AS (
       UPDATE accounts SET deleted_at = now(), updated_at = now()
       WHERE id = $1 AND deleted_at IS NULL AND key <> '${DEFAULT_ACCOUNT_KEY}' RETURNING id
     ), w AS (
       UPDATE webhooks SET deleted_at = now() FROM a WHERE webhooks.account_id = a.id AND webhooks.deleted_at IS NULL
       RETURNING 1
     ), k AS (
       UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) FROM a WHERE api_keys.account_id = a.id
       RETURNING api_keys.id
     ), told AS (
       SELECT pg_notify('${KEYS_CHANNEL}', k.id::text) FROM k
     )
     SELECT (SELECT count(*) FROM w)::int AS webhooks, (SELECT count(*) FROM k)::int AS api_keys
     WHERE (SELECT count(*) FROM told) >= 0`,
    [id],
  );
  return { webhooks: rows[0]!.webhooks, apiKeys: rows[0]!.api_keys };
}

/**
 * Removes up to `limit` rows of the oldest deleted account: its events with
 * their deliveries, queue rows and attempts first (through events_account_page),
 * then, once none is left, its webhooks, keys, audit entries and the account
 * itself. Returns how many events it removed and whether the account was
 * finished ({0, false}: what is left is locked, try later); null when no
 * deleted account is left. A claim in flight for
 * a removed delivery records nothing (recorder.ts tolerates the vanished row).
 */
export async function purgeAccountBatch(db: Db, limit: number): Promise<{ events: number; finished: boolean } | null> {
  const { rows: accounts } = await db.query<{ id: string }>(
    'SELECT id FROM accounts WHERE deleted_at IS NOT NULL ORDER BY deleted_at LIMIT 1',
  );
  const account = accounts[0];
  if (!account) return null;
  const { rows } = await db.query<{ events: number }>(
    `WITH ev AS (
       SELECT e.id FROM events e WHERE e.account_id = $1 LIMIT $2 FOR UPDATE OF e SKIP LOCKED
     ), dl AS (
       SELECT d.id FROM deliveries d JOIN ev ON d.event_id = ev.id
     ), dq AS (
       DELETE FROM delivery_queue q USING dl WHERE q.delivery_id = dl.id RETURNING 1
     ), da AS (
       DELETE FROM delivery_attempts a USING dl WHERE a.delivery_id = dl.id RETURNING 1
     ), dd AS (
       DELETE FROM deliveries d USING dl WHERE d.id = dl.id RETURNING 1
     ), de AS (
       DELETE FROM events e USING ev WHERE e.id = ev.id RETURNING 1
     )
     SELECT (SELECT count(*) FROM de)::int AS events
     WHERE (SELECT count(*) FROM dq) + (SELECT count(*) FROM da) + (SELECT count(*) FROM dd) >= 0`,
    [account.id, limit],
  );
  const events = rows[0]!.events;
  if (events > 0) return { events, finished: false };
  // Some left but locked (a publish or a prune holds them): the next round takes them.
  const { rows: left } = await db.query('SELECT 1 FROM events WHERE account_id = $1 LIMIT 1', [account.id]);
  if (left.length > 0) return { events: 0, finished: false };
  // No event left: the rest of the account is small (configuration), removed in one statement.
  await db.query(
    `WITH w AS (SELECT id FROM webhooks WHERE account_id = $1),
     q AS (DELETE FROM delivery_queue USING w WHERE delivery_queue.webhook_id = w.id RETURNING 1),
     s AS (DELETE FROM webhook_hourly_stats USING w WHERE webhook_hourly_stats.webhook_id = w.id RETURNING 1),
     dw AS (DELETE FROM webhooks WHERE account_id = $1 RETURNING 1),
     k AS (DELETE FROM api_keys WHERE account_id = $1 RETURNING 1),
     l AS (DELETE FROM audit_log WHERE account_id = $1 RETURNING 1)
     SELECT (SELECT count(*) FROM q) + (SELECT count(*) FROM s) + (SELECT count(*) FROM dw) + (SELECT count(*) FROM k)
            + (SELECT count(*) FROM l) AS n`,
    [account.id],
  );
  await db.query('DELETE FROM accounts WHERE id = $1 AND deleted_at IS NOT NULL', [account.id]);
  return { events: 0, finished: true };
}
