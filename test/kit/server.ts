import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import type { ApiKeyRole } from '../../src/domain/roles.js';
import { hashToken, newApiToken } from '../../src/domain/tokens.js';
import { open as openSealed, parseKeyring, placeOf } from '../../src/domain/secret-box.js';
import { createLogger } from '../../src/logger.js';
import { startHookline, type Hookline } from '../../src/server/runtime.js';
import { TestClock } from './clock.js';
import { freshDatabase, type TestDatabase } from './db.js';
import { eventually } from './eventually.js';
import { httpClient, type Gql } from './gql.js';
import { distPath, repoPath } from './paths.js';

// The one way tests start Hookline: in this process (startServer), or as the
// real program in a child process (spawnServer, for signals and crashes).
// Either way on a random port, on 127.0.0.1, with private destinations allowed
// (receivers are local) and small pools (many test files share one server).

export type Keys = Record<ApiKeyRole, string>;

/** The secret keys of every test process (a fixed test key; never used outside tests). */
export const TEST_SECRET_KEYS = `test:${Buffer.alloc(32, 7).toString('base64')}`;

/** The environment every test server starts from; a test's own variables win. */
export function testEnv(db: TestDatabase, env: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: db.url,
    HOOKLINE_SECRET_KEYS: TEST_SECRET_KEYS,
    HOST: '127.0.0.1',
    HOOKLINE_LOG_LEVEL: process.env.HOOKLINE_TEST_LOG_LEVEL ?? 'silent',
    HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'true',
    HOOKLINE_POLL_INTERVAL: '200ms',
    HOOKLINE_DB_POOL_SIZE: '4',
    // Workers listen for /metrics and probes; a random port, so several can run at once.
    HOOKLINE_WORKER_PORT: '0',
    ...env,
  };
}

/** One API key per role, written straight into the table (what `hookline api-keys create` stores). */
export async function insertKeys(db: TestDatabase): Promise<Keys> {
  const keys = {} as Keys;
  for (const role of ['SUPPORT', 'PUBLISHER', 'VIEWER'] as const) {
    keys[role] = newApiToken();
    await db.pool.query('INSERT INTO api_keys (name, role, token_hash) VALUES ($1, $2, $3)', [
      `test ${role}`,
      role,
      hashToken(keys[role]),
    ]);
  }
  return keys;
}

export interface TestServer {
  hookline: Hookline;
  db: TestDatabase;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  keys: Keys;
  clock: TestClock;
  /** Every log line the server wrote, parsed (only with captureLog). */
  logs: Record<string, unknown>[];
  /** POST a GraphQL request; token: a role name (default SUPPORT), a raw token, or null for none. */
  gql: Gql;
  stop(): Promise<void>;
}

export interface ServerOptions {
  env?: Record<string, string>;
  /** A database shared with another server (two instances); default a fresh one, closed on stop. */
  db?: TestDatabase;
  keys?: Keys;
  /** Keep the server's log lines in `logs` (at level info unless the env says otherwise). */
  captureLog?: boolean;
}

export async function startServer(label: string, opts: ServerOptions = {}): Promise<TestServer> {
  const db = opts.db ?? (await freshDatabase(label));
  const keys = opts.keys ?? (await insertKeys(db));
  const env = testEnv(db, { PORT: '0', ...(opts.captureLog ? { HOOKLINE_LOG_LEVEL: 'info' } : {}), ...opts.env });
  const config = loadConfig(env);
  const logs: Record<string, unknown>[] = [];
  const log = opts.captureLog
    ? createLogger(config.logLevel, { write: (line) => void logs.push(JSON.parse(line) as Record<string, unknown>) })
    : createLogger(config.logLevel);
  const clock = new TestClock();
  const hookline = await startHookline(config, log, { clock });
  return {
    hookline,
    db,
    url: hookline.url,
    keys,
    clock,
    logs,
    gql: httpClient(hookline.url, keys),
    stop: async () => {
      await hookline.stop();
      if (!opts.db) await db.close();
    },
  };
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface ServerProcess {
  child: ChildProcess;
  /** Peak resident set size so far (VmHWM), in MB. */
  peakRssMb(): number;
  port: number;
  url: string;
  /** Everything the process wrote, as lines. */
  stdout: string[];
  stderr: string[];
  gql: Gql;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** Waits for /readyz (a worker's on the port its "hookline started" line names). */
  ready(ms?: number): Promise<void>;
  /** The worker's own listener (kind 'worker'), known once ready. */
  workerPort: number | null;
  /** SIGTERM, then SIGKILL after `ms` if it is still running. */
  stop(ms?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** 'server': npm start's program; 'worker': `hookline worker`. */
  kind?: 'server' | 'worker';
  /** For `gql`: the keys its role names stand for. */
  keys?: Partial<Keys>;
  /** Node flags after npm start's own (package.json config.nodeFlags), e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Another checkout's build to run (bench/compare.ts); default this one's dist/. */
  distRoot?: string;
}

// The V8 flags `npm start` runs the server with.
const START_FLAGS =
  (JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { config?: { nodeFlags?: string } }).config?.nodeFlags
    ?.split(' ')
    .filter(Boolean) ?? [];

/** The real program (the build `npm start` runs) as a child process on a fresh port. */
export async function spawnServer(db: TestDatabase, opts: SpawnOptions): Promise<ServerProcess> {
  const kind = opts.kind ?? 'server';
  const port = await freePort();
  const dist = (file: string) => (opts.distRoot ? path.join(opts.distRoot, file) : distPath(file));
  const script = kind === 'server' ? [dist('src/main.js')] : [dist('src/cli/index.js'), 'worker'];
  const args = [...START_FLAGS, ...(opts.nodeArgs ?? []), ...script];
  const env = testEnv(db, { HOOKLINE_LOG_LEVEL: 'info', PORT: String(port), ...opts.env });
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const lines = (into: string[]) => {
    let rest = '';
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop()!;
      into.push(...parts);
    };
  };
  child.stdout!.on('data', lines(stdout));
  child.stderr!.on('data', lines(stderr));
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)));
  let done: number | string | null = null;
  void exited.then((c) => (done = c));
  const url = `http://127.0.0.1:${port}/graphql`;
  const proc: ServerProcess = {
    child,
    port,
    url,
    stdout,
    stderr,
    gql: httpClient(url, opts.keys ?? {}),
    workerPort: null,
    exited,
    peakRssMb: () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : NaN;
      } catch {
        return NaN;
      }
    },
    ready: async (ms = 30_000) => {
      await eventually(
        async () => {
          if (done !== null) throw new Error(`${kind} exited with ${done}: ${stderr.slice(-20).join('\n')}`);
          if (kind === 'worker') {
            const started = stdout.find((l) => l.includes('"hookline started"'));
            if (!started) return false;
            proc.workerPort = (JSON.parse(started) as { port: number }).port;
          }
          const probe = kind === 'worker' ? proc.workerPort : port;
          try {
            return (await fetch(`http://127.0.0.1:${probe}/readyz`, { signal: AbortSignal.timeout(1_000) })).ok;
          } catch {
            return false;
          }
        },
        ms,
        `the ${kind} process to be ready`,
      );
    },
    stop: async (ms = 10_000) => {
      if (done !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      await exited;
      clearTimeout(t);
    },
  };
  return proc;
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `hookline <args>` as an operator runs it, with only the given environment (and PATH, HOME). */
export function runCli(args: string[], env: Record<string, string | undefined>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [distPath('src/cli/index.js'), ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        HOOKLINE_LOG_LEVEL: 'silent',
        HOOKLINE_SECRET_KEYS: TEST_SECRET_KEYS,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** What a stored (sealed) webhook secret says, opened with the test key. */
export function openStored(column: string, webhookId: string, sealed: string | null): string | null {
  return sealed === null
    ? null
    : openSealed(parseKeyring(TEST_SECRET_KEYS), sealed, placeOf('webhooks', column, webhookId));
}
