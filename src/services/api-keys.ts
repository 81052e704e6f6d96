import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { In, IsNull } from 'typeorm';
import type { Actor } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import { badInput, HooklineError, notFound } from '../domain/errors.js';
import type { Scope } from '../domain/accounts.js';
import { liveAccount } from '../storage/sql/accounts.js';
import { visible } from './visibility.js';
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

  /**
   * accountId: a key scoped to that account; a scoped caller's keys are always of its own
   * account (naming another is FORBIDDEN), an unscoped caller's are unscoped unless it names one.
   */
  async create(
    scope: Scope,
    name: string,
    role: ApiKeyRole,
    expiresAt: Date | null,
    accountId: string | null,
    actor: Actor,
  ): Promise<{ apiKey: ApiKey; token: string }> {
    if (scope.accountId !== null && accountId !== null && accountId !== scope.accountId) {
      throw new HooklineError(
        'FORBIDDEN',
        'accountId: a key scoped to an account creates keys for its own account only; leave accountId out',
      );
    }
    const keyAccount = scope.accountId ?? accountId;
    const trimmed = validName('name', name);
    if (!API_KEY_ROLES.includes(role)) throw badInput('role', `must be one of ${API_KEY_ROLES.join(', ')}`);
    if (expiresAt && !(expiresAt.getTime() > this.clock.now())) {
      throw badInput('expiresAt', `must be in the future (got ${expiresAt.toISOString()})`);
    }
    const token = newApiToken();
    const id = await inTransaction(this.pool, async (db) => {
      if (keyAccount !== null && !(isUuid(keyAccount) && (await liveAccount(db, keyAccount)))) {
        throw notFound('account', keyAccount);
      }
      const id = await insertApiKey(db, {
        name: trimmed,
        role,
        tokenHash: hashToken(token),
        expiresAt,
        accountId: keyAccount,
      });
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
        accountId: keyAccount,
      });
      return id;
    });
    const apiKey = await this.reads.getRepository(ApiKey).findOneByOrFail({ id });
    return { apiKey, token };
  }

  list(scope: Scope): Promise<ApiKey[]> {
    const qb = this.reads
      .getRepository(ApiKey)
      .createQueryBuilder('k')
      .orderBy('k.created_at', 'ASC')
      .addOrderBy('k.id', 'ASC');
    return visible(qb, 'k', scope).getMany();
  }

  async count(): Promise<number> {
    return this.reads.getRepository(ApiKey).countBy({ revokedAt: IsNull() });
  }

  async revoke(scope: Scope, id: string, actor: Actor): Promise<ApiKey> {
    if (!isUuid(id)) throw notFound('API key', id);
    await inTransaction(this.pool, async (db) => {
      const before = await apiKeyForRevoke(db, id, scope);
      if (!before || !(await revokeApiKey(db, id))) throw notFound('API key', id);
      if (!before.revokedAt) {
        await insertAudit(db, {
          actor,
          action: 'api_key.revoked',
          targetType: 'ApiKey',
          targetId: id,
          changes: { name: { old: before.name } },
          accountId: before.accountId,
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

  /** These keys, as the scope sees them (an audit entry's actor). */
  byIds(scope: Scope, ids: readonly string[]): Promise<ApiKey[]> {
    const qb = this.reads.getRepository(ApiKey).createQueryBuilder('k').where('k.id IN (:...ids)', { ids });
    return visible(qb, 'k', scope).getMany();
  }

  /** Of these keys, those not revoked, as stored now (not as cached): what open connections are checked against. */

  unrevoked(ids: string[]): Promise<ApiKey[]> {
    return this.reads.getRepository(ApiKey).findBy({ id: In(ids), revokedAt: IsNull() });
  }
}

export function isExpired(key: ApiKey, now: number): boolean {
  return key.expiresAt !== null && key.expiresAt.getTime() <= now;
}
