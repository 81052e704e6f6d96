import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { hashToken, newApiToken } from '../../src/domain/tokens.js';
import { createDataSource, migrate } from '../../src/storage/data-source.js';
import { startEmbedded, type EmbeddedDatabase } from '../../src/storage/embedded.js';

// Benchmarks and drills run against DATABASE_URL's server when set, else an
// embedded one under .data/bench; every scenario gets a fresh database.

let embedded: EmbeddedDatabase | null = null;

export async function adminUrl(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  embedded ??= await startEmbedded('.data/bench', Number(process.env.HOOKLINE_BENCH_PG_PORT ?? 54349), () => undefined);
  return embedded.adminUrl;
}

export function isEmbedded(): boolean {
  return embedded !== null;
}

/** Stops and starts the embedded server (the PostgreSQL-restart drill). */
export async function restartEmbedded(): Promise<void> {
  if (!embedded) throw new Error('no embedded server');
  await embedded.stop();
  embedded = await startEmbedded('.data/bench', Number(process.env.HOOKLINE_BENCH_PG_PORT ?? 54349), () => undefined);
}

export async function stopDatabase(): Promise<void> {
  await embedded?.stop();
  embedded = null;
}

export interface BenchDb {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function freshDb(label: string): Promise<BenchDb> {
  const admin = await adminUrl();
  const name = `hlbench_${label}_${randomBytes(3).toString('hex')}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const url = u.toString();
  const ds = createDataSource(url, 1);
  await ds.initialize();
  await migrate(ds);
  await ds.destroy();
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined);
  return {
    url,
    pool,
    drop: async () => {
      await pool.end();
      const d = new pg.Client({ connectionString: await adminUrl() });
      await d.connect();
      await d.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await d.end();
    },
  };
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

/** Webhooks created straight in SQL: setting up 1,000 of them is not what is measured. */
export async function createWebhooks(
  db: BenchDb,
  urls: string[],
  resource = 'USERS',
  action = 'CREATE',
): Promise<string[]> {
  const { rows } = await db.pool.query<{ id: string }>(
    `WITH w AS (
       INSERT INTO webhooks (name, destination_url) SELECT 'bench ' || ord, u FROM unnest($1::text[]) WITH ORDINALITY AS t(u, ord)
       RETURNING id
     ), s AS (
       INSERT INTO webhook_subscriptions (webhook_id, resource, action) SELECT id, $2, $3 FROM w RETURNING webhook_id
     )
     SELECT webhook_id AS id FROM s`,
    [urls, resource, action],
  );
  return rows.map((r) => r.id);
}
