import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { In, IsNull } from 'typeorm';
import type { Actor } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import { badInput, notFound } from '../domain/errors.js';
import { API_KEY_ROLES, type ApiKeyRole } from '../domain/roles.js';
import { hashToken, newApiToken } from '../domain/tokens.js';
import { isUuid, validName } from '../domain/validation.js';
import type { Logger } from '../logger.js';
import { ApiKey } from '../storage/entities/index.js';
import { apiKeyForRevoke, insertApiKey, noteKeyUse, revokeApiKey } from '../storage/sql/api-keys.js';
import { insertAudit } from '../storage/sql/audit.js';
import { inTransaction } from '../storage/sql/db.js';

// Lookups by token hash are cached: every request authenticates, and a round
// trip per request would cost more than the rest of a publish. There is no
// TTL: a revocation is announced on KEYS_CHANNEL and every process forgets the
// key at once (forget); when the LISTEN connection was lost, and notices with
// it, the whole cache goes (forgetAll). Expiry is checked on every use against
// the clock, so it needs no announcement. A lookup that was in flight when a
// forget ran may have read the row before the revocation committed: it is
// neither cached nor answered, but made again (the generation counter).
const CACHE_LIMIT = 10_000;
// lastUsedAt is kept to within a minute: at most one write per key per minute per process.
const LAST_USED_EVERY_MS = 60_000;

export type Authentication = { key: ApiKey } | { refused: string } | null;

export class ApiKeyService {
  private readonly cache = new Map<string, ApiKey | null>();
  private readonly lastNoted = new Map<string, number>();
  /** Counts forget and forgetAll calls: a lookup that saw it change read a state older than a revocation. */
  private generation = 0;

  constructor(
    /** For reads only: every change is a transaction on the pool. */
    private readonly reads: DataSource,
    private readonly pool: pg.Pool,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  async create(
    name: string,
    role: ApiKeyRole,
    expiresAt: Date | null,
    actor: Actor,
  ): Promise<{ apiKey: ApiKey; token: string }> {
    const trimmed = validName('name', name);
    if (!API_KEY_ROLES.includes(role)) throw badInput('role', `must be one of ${API_KEY_ROLES.join(', ')}`);
    if (expiresAt && !(expiresAt.getTime() > this.clock.now())) {
      throw badInput('expiresAt', `must be in the future (got ${expiresAt.toISOString()})`);
    }
    const token = newApiToken();
    const id = await inTransaction(this.pool, async (db) => {
      const id = await insertApiKey(db, { name: trimmed, role, tokenHash: hashToken(token), expiresAt });
      await insertAudit(db, {
        actor,
        action: 'api_key.created',
        targetType: 'ApiKey',
        targetId: id,
        changes: {
          name: { new: trimmed },
          role: { new: role },
          expiresAt: { new: expiresAt?.toISOString() ?? null },
        },
      });
      return id;
    });
    const apiKey = await this.reads.getRepository(ApiKey).findOneByOrFail({ id });
    return { apiKey, token };
  }

  list(): Promise<ApiKey[]> {
    return this.reads.getRepository(ApiKey).find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  async count(): Promise<number> {
    return this.reads.getRepository(ApiKey).countBy({ revokedAt: IsNull() });
  }

  async revoke(id: string, actor: Actor): Promise<ApiKey> {
    if (!isUuid(id)) throw notFound('API key', id);
    await inTransaction(this.pool, async (db) => {
      const before = await apiKeyForRevoke(db, id);
      if (!before || !(await revokeApiKey(db, id))) throw notFound('API key', id);
      if (!before.revokedAt) {
        await insertAudit(db, {
          actor,
          action: 'api_key.revoked',
          targetType: 'ApiKey',
          targetId: id,
          changes: { name: { old: before.name } },
        });
      }
    });
    const key = await this.reads.getRepository(ApiKey).findOneByOrFail({ id });
    this.forget(id);
    return key;
  }

  /** The key a bearer token stands for; `refused` with the reason for an expired key; null for none. */
  async authenticate(token: string): Promise<Authentication> {
    const hash = hashToken(token);
    let key = this.cache.get(hash);
    while (key === undefined) {
      const generation = this.generation;
      const found = await this.reads.getRepository(ApiKey).findOneBy({ tokenHash: hash, revokedAt: IsNull() });
      // Cached only when no forget ran meanwhile; else looked up again (and the cache may hold it by now).
      if (generation !== this.generation) {
        key = this.cache.get(hash);
        continue;
      }
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(hash, found);
      key = found;
    }
    if (!key) return null;
    if (isExpired(key, this.clock.now())) {
      return { refused: `this API key expired at ${key.expiresAt!.toISOString()}: ask for a new one` };
    }
    this.noteUse(key.id);
    return { key };
  }

  /** Fire and forget: the request does not wait for it, and a failure only leaves lastUsedAt older. */
  private noteUse(keyId: string): void {
    const now = this.clock.now();
    if (now - (this.lastNoted.get(keyId) ?? 0) < LAST_USED_EVERY_MS) return;
    this.lastNoted.set(keyId, now);
    noteKeyUse(this.pool, keyId, new Date(now)).catch((err: Error) =>
      this.log.warn({ apiKey: keyId, err: err.message }, 'could not note the use of an API key'),
    );
  }

  /** The key was revoked (here or in another process): the next request with it looks it up again. */
  forget(keyId: string): void {
    this.generation++;
    for (const [hash, key] of this.cache) if (key?.id === keyId) this.cache.delete(hash);
  }

  forgetAll(): void {
    this.generation++;
    this.cache.clear();
  }

  /** Of these keys, those not revoked, as stored now (not as cached): what open connections are checked against. */
  byIds(ids: readonly string[]): Promise<ApiKey[]> {
    return this.reads.getRepository(ApiKey).findBy({ id: In([...ids]) });
  }

  unrevoked(ids: string[]): Promise<ApiKey[]> {
    return this.reads.getRepository(ApiKey).findBy({ id: In(ids), revokedAt: IsNull() });
  }
}

export function isExpired(key: ApiKey, now: number): boolean {
  return key.expiresAt !== null && key.expiresAt.getTime() <= now;
}
