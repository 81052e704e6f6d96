import type pg from 'pg';
import { keyIdOf, open, placeOf, seal, type Keyring } from '../domain/secret-box.js';
import { SECRET_COLUMNS, type SecretColumn } from '../storage/keyring.js';
import { inTransaction } from '../storage/sql/db.js';
import { replaceSealed, replaceSealedHeaders, sealedBatch } from '../storage/sql/secrets.js';
import { headerSealColumn, type StoredHeader } from '../domain/headers.js';

// Sealing and opening the webhooks' secrets. Opening is cached per place and
// sealed value (which names its key), so the delivery path pays AES-GCM once
// per webhook and key, not once per delivery.

const CACHE_LIMIT = 20_000;

/** A secret column, or a secret custom header's place (domain/headers.ts, headerSealColumn). */
type SealedPlace = SecretColumn | `headers.${string}`;

export class SecretVault {
  private readonly opened = new Map<string, string>();

  constructor(readonly keyring: Keyring) {}

  seal(column: SealedPlace, webhookId: string, plaintext: string): string;
  seal(column: SealedPlace, webhookId: string, plaintext: string | null): string | null;
  seal(column: SealedPlace, webhookId: string, plaintext: string | null): string | null {
    return plaintext === null ? null : seal(this.keyring, plaintext, placeOf('webhooks', column, webhookId));
  }

  open(column: SealedPlace, webhookId: string, sealed: string): string;
  open(column: SealedPlace, webhookId: string, sealed: string | null): string | null;
  open(column: SealedPlace, webhookId: string, sealed: string | null): string | null {
    if (sealed === null) return null;
    // Keyed by place too: a sealed value copied to another row must still fail to open there.
    const place = placeOf('webhooks', column, webhookId);
    const cacheKey = `${place} ${sealed}`;
    const hit = this.opened.get(cacheKey);
    if (hit !== undefined) return hit;
    const plain = open(this.keyring, sealed, place);
    if (this.opened.size >= CACHE_LIMIT) this.opened.clear();
    this.opened.set(cacheKey, plain);
    return plain;
  }
}

export interface ReencryptProgress {
  webhooks: number;
  values: number;
  /** Values already sealed with the current key. */
  current: number;
}

/**
 * Seals every stored secret with the current key, in batches of `batch`
 * webhooks, each batch in its own transaction; after it, keys other than the
 * current one can be removed from HOOKLINE_SECRET_KEYS.
 */
export async function reencryptAll(
  pool: pg.Pool,
  vault: SecretVault,
  batch: number,
  onProgress: (p: ReencryptProgress) => void,
): Promise<ReencryptProgress> {
  const progress: ReencryptProgress = { webhooks: 0, values: 0, current: 0 };
  const currentId = vault.keyring.current.id;
  let after: string | null = null;
  for (;;) {
    const rows = await sealedBatch(pool, after, batch);
    if (rows.length === 0) break;
    await inTransaction(pool, async (db) => {
      for (const row of rows) {
        for (const column of SECRET_COLUMNS) {
          const sealed = row[column];
          if (sealed === null) continue;
          if (keyIdOf(sealed) === currentId) {
            progress.current++;
            continue;
          }
          const plain = vault.open(column, row.id, sealed);
          if (await replaceSealed(db, row.id, column, sealed, vault.seal(column, row.id, plain))) progress.values++;
        }
        let moved = 0;
        const headers = row.headers.map((h): StoredHeader => {
          if (!h.secret) return h;
          if (keyIdOf(h.sealed) === currentId) {
            progress.current++;
            return h;
          }
          moved++;
          const place = headerSealColumn(h.name);
          return { ...h, sealed: vault.seal(place, row.id, vault.open(place, row.id, h.sealed)) };
        });
        if (moved && (await replaceSealedHeaders(db, row.id, row.headers, headers))) progress.values += moved;
      }
    });
    progress.webhooks += rows.length;
    after = rows.at(-1)!.id;
    onProgress({ ...progress });
  }
  return progress;
}
