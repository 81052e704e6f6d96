import { SECRET_COLUMNS, type SecretColumn } from '../keyring.js';
import type { Db } from './db.js';

// Moving stored secrets to the current key (hookline secrets reencrypt): read
// a batch of webhooks by id, write each changed value back only if it is still
// what was read (a concurrent update or rotation wins).

export type SealedRow = { id: string } & Record<SecretColumn, string | null>;

export async function sealedBatch(db: Db, afterId: string | null, limit: number): Promise<SealedRow[]> {
  const { rows } = await db.query<SealedRow>(
    `SELECT id, ${SECRET_COLUMNS.join(', ')} FROM webhooks
     WHERE ($1::uuid IS NULL OR id > $1) AND (${SECRET_COLUMNS.map((c) => `${c} IS NOT NULL`).join(' OR ')})
     ORDER BY id LIMIT $2`,
    [afterId, limit],
  );
  return rows;
}

/** Replaces one stored value if it is unchanged since it was read; true when it was replaced. */
export async function replaceSealed(
  db: Db,
  id: string,
  column: SecretColumn,
  was: string,
  now: string,
): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE webhooks SET ${column} = $3 WHERE id = $1 AND ${column} = $2`, [
    id,
    was,
    now,
  ]);
  return rowCount === 1;
}
