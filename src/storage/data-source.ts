import pg from 'pg';
import { DataSource } from 'typeorm';
import { ENTITIES } from './entities/index.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { useMigrationKeyring } from '../../migrations/keyring.js';
import type { Keyring } from '../domain/secret-box.js';

export function createDataSource(url: string, poolSize = 10): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    extra: { max: poolSize },
    logging: false,
  });
}

// Every instance migrates at start, and a rollout starts several at once: the
// lock makes the first apply what is pending while the others wait, then find
// nothing left to do (TypeORM itself would let two run the same migration).
// It is held on a connection of its own, so a DataSource of one connection
// can still migrate.
const MIGRATION_LOCK = 0x686b6c6d; // "hklm"

/** Applies pending migrations, one process at a time; returns the names of those it applied. Migrations that seal secrets use `keyring`. */
export async function migrate(ds: DataSource, keyring: Keyring | null = null): Promise<string[]> {
  const lock = new pg.Client({ connectionString: (ds.options as { url?: string }).url });
  await lock.connect();
  try {
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    useMigrationKeyring(keyring);
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    useMigrationKeyring(null);
    // Ending the session releases the lock.
    await lock.end();
  }
}

export async function pendingMigrations(ds: DataSource): Promise<boolean> {
  return ds.showMigrations();
}
