import type { Db } from './db.js';

// The send guard (migrations/1765200000000-StoppingMeansStopped.ts says how it
// works with the webhooks' version trigger; delivery/send-gate.ts uses it).
// Both statements run on one checked-out connection: the locks are that
// session's, and a connection that dies takes them with it.

/** The advisory lock class of the send guard ("hlsg"). */
export const SEND_GUARD_CLASS = 0x686c7367;

/**
 * Takes the shared send lock of each webhook that no change holds now, and
 * returns the locked webhooks with their current versions (null: the row is
 * gone); a webhook missing from the answer is being changed and was not locked.
 */
export async function guardWebhooks(db: Db, ids: string[]): Promise<Map<string, string | null>> {
  const { rows } = await db.query<{ webhook_id: string; version: string | null }>({
    name: 'hookline-send-guard',
    text: 'SELECT webhook_id, version FROM hookline_send_guard($1::uuid[])',
    values: [ids],
  });
  return new Map(rows.map((r) => [r.webhook_id, r.version]));
}

/** Gives back the shared send locks guardWebhooks took for these webhooks. */
export async function unguardWebhooks(db: Db, ids: string[]): Promise<void> {
  await db.query({
    name: 'hookline-send-unguard',
    text: `SELECT count(pg_advisory_unlock_shared(${SEND_GUARD_CLASS}, hashtext(id::text))) FROM unnest($1::uuid[]) id`,
    values: [ids],
  });
}
