import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  keyIdOf,
  newSecretKey,
  open,
  parseKeyring,
  placeOf,
  SecretKeyError,
  type Keyring,
} from '../domain/secret-box.js';
import type { Logger } from '../logger.js';
import type { Db } from './sql/db.js';
import { headerSealColumn } from '../domain/headers.js';

// Where the secret keys come from: HOOKLINE_SECRET_KEYS, or else a key
// generated once into the data directory. At start the stored secrets are
// checked against the keys, so a missing or wrong key stops the process with
// the key id it needs instead of failing deliveries one by one.

export const SECRET_COLUMNS = [
  'bearer_token',
  'hmac_secret',
  'previous_hmac_secret',
  'signing_key',
  'previous_signing_key',
] as const;
export type SecretColumn = (typeof SECRET_COLUMNS)[number];

const KEY_FILE = 'secret-keys';

export async function loadKeyring(secretKeys: string | undefined, dataDir: string, log: Logger): Promise<Keyring> {
  if (secretKeys) return parseKeyring(secretKeys);
  const file = path.resolve(dataDir, KEY_FILE);
  if (!existsSync(file)) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${newSecretKey('k1')}\n`, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e; // another process of this host made it first
    });
    await chmod(file, 0o600);
    log.warn(
      { file },
      'generated a secret key for stored secrets: keep this file (and back it up with the database); instances on several hosts must all be given the same keys in HOOKLINE_SECRET_KEYS',
    );
  }
  return parseKeyring(await readFile(file, 'utf8'));
}

/**
 * Per column and key id: how many stored values, and one of them (with its row, and for a custom
 * header its place) to try the key on. Secret custom headers count as the column `headers`.
 */
export async function sealedValues(db: Db): Promise<
  {
    column: SecretColumn | 'headers';
    keyId: string;
    count: number;
    sample: string;
    rowId: string;
    place: SecretColumn | `headers.${string}`;
  }[]
> {
  const { rows } = await db.query<{
    col: SecretColumn | 'headers';
    value: string;
    id: string;
    count: number;
    header: string | null;
  }>(
    SECRET_COLUMNS.map(
      (c) =>
        `SELECT '${c}' AS col, count(*)::int AS count, min(${c}) AS value, (array_agg(id ORDER BY ${c}))[1]::text AS id,
                NULL AS header
         FROM webhooks WHERE ${c} IS NOT NULL GROUP BY split_part(${c}, '.', 2)`,
    )
      .concat(
        `SELECT 'headers', count(*)::int, min(h ->> 'sealed'), (array_agg(w.id ORDER BY h ->> 'sealed'))[1]::text,
                (array_agg(h ->> 'name' ORDER BY h ->> 'sealed'))[1]
         FROM webhooks w CROSS JOIN LATERAL jsonb_array_elements(w.headers) h
         WHERE h ? 'sealed' GROUP BY split_part(h ->> 'sealed', '.', 2)`,
      )
      .join(' UNION ALL '),
  );
  return rows.map((r) => ({
    column: r.col,
    keyId: keyIdOf(r.value) ?? '',
    count: r.count,
    sample: r.value,
    rowId: r.id,
    place: r.col === 'headers' ? headerSealColumn(r.header!) : r.col,
  }));
}

/** Throws, naming the key id, when a stored secret needs a key the ring lacks or that does not open it. */
export async function checkKeyring(db: Db, ring: Keyring): Promise<void> {
  for (const v of await sealedValues(db)) {
    if (!ring.keys.has(v.keyId)) {
      throw new SecretKeyError(
        `${v.count} stored secret(s) (webhooks.${v.column}) were sealed with key ${v.keyId || '(none: plain text)'}, which HOOKLINE_SECRET_KEYS does not have`,
        v.keyId,
      );
    }
    try {
      open(ring, v.sample, placeOf('webhooks', v.place, v.rowId));
    } catch {
      throw new SecretKeyError(
        `key ${v.keyId} in HOOKLINE_SECRET_KEYS does not open the secrets sealed with ${v.keyId}: a wrong key?`,
        v.keyId,
      );
    }
  }
}
