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

/** Applies pending migrations; returns the names of those it applied. Migrations that seal secrets use `keyring`. */
export async function migrate(ds: DataSource, keyring: Keyring | null = null): Promise<string[]> {
  useMigrationKeyring(keyring);
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    useMigrationKeyring(null);
  }
}

export async function pendingMigrations(ds: DataSource): Promise<boolean> {
  return ds.showMigrations();
}
