import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { createDataSource, migrate } from '../../src/storage/data-source.js';
import { busiestSecond } from './receiver.js';

// Databases for tests and benchmarks. `npm test` (test/run.ts) migrates one
// template database per run; every test file copies it (CREATE DATABASE …
// TEMPLATE …, milliseconds instead of a migration per file). The runner drops
// the copies of files that passed and keeps, with their names printed, those
// of files that failed.

export const ENV = {
  adminUrl: 'HOOKLINE_TEST_ADMIN_URL',
  template: 'HOOKLINE_TEST_TEMPLATE',
  registry: 'HOOKLINE_TEST_REGISTRY',
} as const;

export function adminUrl(): string {
  const url = process.env[ENV.adminUrl] ?? process.env.DATABASE_URL;
  if (!url) throw new Error('run tests with `npm test` (it provides the database server), or set DATABASE_URL');
  return url;
}

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export async function dropDatabase(server: string, name: string): Promise<void> {
  await admin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`));
}

/** A migrated database to copy from; made once per test run (or benchmark run). */
export async function createTemplate(server: string, prefix = 'hl_template'): Promise<string> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await admin(server, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  const ds = createDataSource(withDatabase(server, name), 1);
  await ds.initialize();
  await migrate(ds);
  await ds.destroy();
  return name;
}

export interface TestDatabase {
  name: string;
  url: string;
  /** A small pool for the test's own SQL (backdating rows, reading state). */
  pool: pg.Pool;
  close(): Promise<void>;
}

export interface FreshOptions {
  /** false: an empty database (migration tests, CLI `migrate`). */
  migrated?: boolean;
  /** The template to copy; default the run's (HOOKLINE_TEST_TEMPLATE). */
  template?: string;
  server?: string;
  /** Dropped by close() instead of by the test runner (benchmarks). */
  dropOnClose?: boolean;
}

/** A database of its own for a test file: a copy of the run's migrated template, or an empty one. */
export async function freshDatabase(label: string, opts: FreshOptions = {}): Promise<TestDatabase> {
  const server = opts.server ?? adminUrl();
  const migrated = opts.migrated ?? true;
  const template = migrated ? (opts.template ?? process.env[ENV.template]) : 'template0';
  if (!template) throw new Error(`no template database: run tests with \`npm test\` (it sets ${ENV.template})`);
  const name = `hl_${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  await admin(server, (c) =>
    c.query(`CREATE DATABASE ${c.escapeIdentifier(name)} TEMPLATE ${c.escapeIdentifier(template)}`),
  );
  register(name);
  const url = withDatabase(server, name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined);
  return {
    name,
    url,
    pool,
    close: async () => {
      await pool.end();
      if (opts.dropOnClose) await dropDatabase(server, name);
    },
  };
}

/** Tells the runner which test file made the database, so it keeps it if that file fails. */
function register(name: string): void {
  const dir = process.env[ENV.registry];
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), process.argv[1] ?? '');
}

/** Every table the migrations create (migrations/), sorted: one list for the tests that check the schema. */
export const SCHEMA_TABLES = [
  'accounts',
  'api_keys',
  'audit_log',
  'deliveries',
  'delivery_attempts',
  'delivery_queue',
  'events',
  'migrations',
  'webhook_flow',
  'webhook_hourly_stats',
  'webhook_notices',
  'webhook_subscriptions',
  'webhooks',
];

/**
 * The most attempts to a webhook that started within any one second, by the
 * workers' own start times (delivery_attempts.started_at): what a rate limit
 * promises. Arrival times at a receiver also carry the way there, which on a
 * loaded machine bunches requests sent a window apart (seen: 26 in a second
 * at a limit of 20, every start a full window apart). Counted as busiestSecond
 * counts arrivals, from the start times to the microsecond.
 */
export async function busiestStartedSecond(pool: pg.Pool, webhookId: string): Promise<number> {
  const { rows } = await pool.query<{ us: string }>(
    `SELECT (extract(epoch FROM started_at) * 1000000)::bigint AS us FROM delivery_attempts WHERE webhook_id = $1`,
    [webhookId],
  );
  return busiestSecond(rows.map((r) => BigInt(r.us) * 1000n));
}
