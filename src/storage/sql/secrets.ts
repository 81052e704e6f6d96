import { SECRET_COLUMNS, type SecretColumn } from '../keyring.js';
import type { Db } from './db.js';
import type { StoredHeader } from '../../domain/headers.js';

// Moving stored secrets to the current key (hookline secrets reencrypt): read
// a batch of webhooks by id, write each changed value back only if it is still
// what was read (a concurrent update or rotation wins).

export type SealedRow = { id: string; headers: StoredHeader[] } & Record<SecretColumn, string | null>;

export async function sealedBatch(db: Db, afterId: string | null, limit: number): Promise<SealedRow[]> {
  const { rows } = await db.query<SealedRow>(
    `SELECT id, ${SECRET_COLUMNS.join(', ')}, headers FROM webhooks
     WHERE ($1::uuid IS NULL OR id > $1)
       AND (${SECRET_COLUMNS.map((c) => `${c} IS NOT NULL`).join(' OR ')} OR headers @> '[{"secret": true}]')
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

/** Replaces a webhook's custom headers if they are unchanged since they were read; true when replaced. */
export async function replaceSealedHeaders(
  db: Db,
  id: string,
  was: StoredHeader[],
  now: StoredHeader[],
): Promise<boolean> {
  const { rowCount } = await db.query(`UPDATE webhooks SET headers = $3::jsonb WHERE id = $1 AND headers = $2::jsonb`, [
    id,
    JSON.stringify(was),
    JSON.stringify(now),
  ]);
  return rowCount === 1;
}
