import type { DataSource } from 'typeorm';
import { IsNull } from 'typeorm';
import { badInput, notFound } from '../domain/errors.js';
import { API_KEY_ROLES, type ApiKeyRole } from '../domain/roles.js';
import { hashToken, newApiToken } from '../domain/tokens.js';
import { isUuid, validName } from '../domain/validation.js';
import { ApiKey } from '../storage/entities/index.js';
import { clientOf } from '../storage/sql/db.js';
import { revokeApiKey } from '../storage/sql/api-keys.js';

// Lookups by token hash are cached: every request authenticates, and a round
// trip per request would cost more than the rest of a publish. There is no
// TTL: a revocation is announced on KEYS_CHANNEL and every process forgets the
// key at once (forget); when the LISTEN connection was lost, and notices with
// it, the whole cache goes (forgetAll).
const CACHE_LIMIT = 10_000;

export class ApiKeyService {
  private cache = new Map<string, ApiKey | null>();

  constructor(private readonly ds: DataSource) {}

  async create(name: string, role: ApiKeyRole): Promise<{ apiKey: ApiKey; token: string }> {
    const trimmed = validName('name', name);
    if (!API_KEY_ROLES.includes(role)) throw badInput('role', `must be one of ${API_KEY_ROLES.join(', ')}`);
    const token = newApiToken();
    const repo = this.ds.getRepository(ApiKey);
    const saved = await repo.save(repo.create({ name: trimmed, role, tokenHash: hashToken(token) }));
    const apiKey = await repo.findOneByOrFail({ id: saved.id });
    return { apiKey, token };
  }

  list(): Promise<ApiKey[]> {
    return this.ds.getRepository(ApiKey).find({ order: { createdAt: 'ASC', id: 'ASC' } });
  }

  async count(): Promise<number> {
    return this.ds.getRepository(ApiKey).countBy({ revokedAt: IsNull() });
  }

  async revoke(id: string): Promise<ApiKey> {
    if (!isUuid(id)) throw notFound('API key', id);
    const key = await this.ds.transaction(async (m) => {
      if (!(await revokeApiKey(await clientOf(m), id))) throw notFound('API key', id);
      return m.getRepository(ApiKey).findOneByOrFail({ id });
    });
    this.forget(id);
    return key;
  }

  /** The active key for a bearer token, or null. */
  async authenticate(token: string): Promise<ApiKey | null> {
    const hash = hashToken(token);
    if (this.cache.has(hash)) return this.cache.get(hash)!;
    const key = await this.ds.getRepository(ApiKey).findOneBy({ tokenHash: hash, revokedAt: IsNull() });
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(hash, key);
    return key;
  }

  /** The key was revoked (here or in another process): the next request with it looks it up again. */
  forget(keyId: string): void {
    for (const [hash, key] of this.cache) if (key?.id === keyId) this.cache.delete(hash);
  }

  forgetAll(): void {
    this.cache.clear();
  }
}
