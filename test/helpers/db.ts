import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDataSource, migrate } from '../../src/storage/data-source.js';

// Each test file gets a database of its own on the server npm test points at.

export function adminUrl(): string {
  const url = process.env.HOOKLINE_TEST_ADMIN_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error('run tests with `npm test` (it provides the database), or set DATABASE_URL');
  return url;
}

function withDb(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** An empty database; migrated unless `migrated: false`. */
export async function freshDatabase(label: string, opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `hl_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = withDb(adminUrl(), name);
  if (opts.migrated ?? true) {
    const ds = createDataSource(url, 1);
    await ds.initialize();
    await migrate(ds);
    await ds.destroy();
  }
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  return {
    url,
    pool,
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl() });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
