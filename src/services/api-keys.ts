import type { DataSource } from 'typeorm';
import { IsNull } from 'typeorm';
import { badInput, notFound } from '../domain/errors.js';
import { API_KEY_ROLES, type ApiKeyRole } from '../domain/roles.js';
import { hashToken, newApiToken } from '../domain/tokens.js';
import { isUuid, validName } from '../domain/validation.js';
import { ApiKey } from '../storage/entities/index.js';
import type { Clock } from '../domain/clock.js';

// Lookups by token hash are cached briefly: every request authenticates, and a
// round trip per request would cost more than the rest of a publish.
// Revocations made here drop the entry at once; other processes see them
// within CACHE_TTL_MS.
const CACHE_TTL_MS = 2_000;

export class ApiKeyService {
  private cache = new Map<string, { key: ApiKey | null; until: number }>();

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
  ) {}

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
    const repo = this.ds.getRepository(ApiKey);
    await repo.update({ id, revokedAt: IsNull() }, { revokedAt: () => 'now()' });
    const key = await repo.findOneBy({ id });
    if (!key) throw notFound('API key', id);
    this.cache.clear();
    return key;
  }

  /** The active key for a bearer token, or null. */
  async authenticate(token: string): Promise<ApiKey | null> {
    const hash = hashToken(token);
    const now = this.clock.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now) return hit.key;
    const key = await this.ds.getRepository(ApiKey).findOneBy({ tokenHash: hash, revokedAt: IsNull() });
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { key, until: now + CACHE_TTL_MS });
    return key;
  }
}
