import 'reflect-metadata';
import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import { compileFilter } from '../../src/domain/filter.js';
import { hashToken, newApiToken } from '../../src/domain/tokens.js';
import type { EmbeddedDatabase } from '../../src/storage/embedded.js';
import { createTemplate, dropDatabase, freshDatabase, type TestDatabase } from '../../test/kit/db.js';

// Benchmarks and drills run against DATABASE_URL's server when set, else an
// embedded one under .data/bench; every scenario gets a fresh copy of one
// migrated template (the test kit's databases).

let embedded: EmbeddedDatabase | null = null;
let template: string | null = null;

const EMBEDDED_DIR = '.data/bench';
const embeddedPort = () => Number(process.env.HOOKLINE_BENCH_PG_PORT ?? 54349);

async function startEmbedded(): Promise<EmbeddedDatabase> {
  // Loaded only in embedded mode: its exit hooks must not exist in a DATABASE_URL run.
  const { startEmbedded: start } = await import('../../src/storage/embedded.js');
  return start(EMBEDDED_DIR, embeddedPort(), () => undefined);
}

export async function adminUrl(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  embedded ??= await startEmbedded();
  return embedded.adminUrl;
}

export function isEmbedded(): boolean {
  return embedded !== null;
}

/** Stops and starts the embedded server (the PostgreSQL-restart drill). */
export async function restartEmbedded(): Promise<void> {
  if (!embedded) throw new Error('no embedded server');
  await embedded.stop();
  embedded = await startEmbedded();
}

export async function stopDatabase(): Promise<void> {
  if (template) await dropDatabase(await adminUrl(), template).catch(() => undefined);
  template = null;
  await embedded?.stop();
  embedded = null;
}

export type BenchDb = TestDatabase;

export async function freshDb(label: string): Promise<BenchDb> {
  const server = await adminUrl();
  template ??= await createTemplate(server, 'hlbench_template');
  return freshDatabase(`bench_${label}`, { server, template, dropOnClose: true });
}

/** An empty database, for a build that migrates its own (another revision's: bench/lib/release.ts). */
export async function emptyDb(label: string): Promise<BenchDb> {
  return freshDatabase(`bench_${label}`, { server: await adminUrl(), migrated: false, dropOnClose: true });
}

export async function createKey(db: BenchDb, role: 'SUPPORT' | 'PUBLISHER' | 'VIEWER'): Promise<string> {
  const token = newApiToken();
  await db.pool.query('INSERT INTO api_keys (name, role, token_hash) VALUES ($1, $2, $3)', [
    `bench ${role}`,
    role,
    hashToken(token),
  ]);
  return token;
}

export interface BenchWebhooks {
  resource?: string;
  action?: string;
  /** A payload filter on every subscription (compiled as the API compiles it). */
  filter?: Record<string, unknown>;
  ordering?: 'NONE' | 'PER_OBJECT';
}

/** Webhooks of the default account created straight in SQL: setting up 1,000 of them is not what is measured. */
export async function createWebhooks(db: BenchDb, urls: string[], o: BenchWebhooks = {}): Promise<string[]> {
  const compiled = o.filter ? compileFilter(o.filter, 'filter') : null;
  const { rows } = await db.pool.query<{ id: string }>(
    `WITH w AS (
       INSERT INTO webhooks (account_id, name, destination_url, ordering)
       SELECT $8, 'bench ' || ord, u, $6 FROM unnest($1::text[]) WITH ORDINALITY AS t(u, ord)
       RETURNING id
     ), s AS (
       INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action, filter, filter_path, filter_terms)
       SELECT $8, id, $2, $3, $4::jsonb, $5::jsonpath, $7::jsonb FROM w RETURNING webhook_id
     )
     SELECT webhook_id AS id FROM s`,
    [
      urls,
      o.resource ?? 'USERS',
      o.action ?? 'CREATE',
      o.filter ? JSON.stringify(o.filter) : null,
      compiled?.path ?? null,
      o.ordering ?? 'NONE',
      compiled && JSON.stringify(compiled.terms),
      DEFAULT_ACCOUNT_ID,
    ],
  );
  return rows.map((r) => r.id);
}

/** Webhook.rateLimit and maxInFlight, as updateWebhook sets them: with the flow state a limited webhook's claims lock. */
export async function setLimits(
  db: BenchDb,
  ids: string[],
  limits: { rateLimit?: number; maxInFlight?: number },
): Promise<void> {
  await db.pool.query(
    `WITH w AS (UPDATE webhooks SET rate_limit = $2, max_in_flight = $3 WHERE id = ANY($1::uuid[]) RETURNING id)
     INSERT INTO webhook_flow (webhook_id) SELECT id FROM w`,
    [ids, limits.rateLimit ?? null, limits.maxInFlight ?? null],
  );
}
