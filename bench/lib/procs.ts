import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { spawnServer, type ServerProcess } from '../../test/kit/server.js';
import type { TestDatabase } from '../../test/kit/db.js';
import { repoPath } from '../../test/kit/paths.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientLoad, ClosedLoad, FeedStats, LoadResult, OpenLoad, Subscribe } from './ipc.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DIST = path.resolve(here, '../..');

// Every process the bench starts, until it exits: killAll() is the teardown
// that also runs when a scenario fails or the bench is interrupted.
const children = new Set<ChildProcess>();

function track<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  // Unhandled, a failed signal or message to a child that is already gone would crash the teardown itself.
  child.on('error', (e) => process.stderr.write(`  (child process ${child.pid}: ${e.message})\n`));
  return child;
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill(signal);
  });
}

export async function killAll(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c)));
}

export interface ReceiverProc {
  url: string;
  child: ChildProcess;
  stats(prefix?: string): Promise<{
    total: number;
    byPath: Record<string, number>;
    unique: number;
    duplicates: number;
    firstNs: string;
    lastNs: string;
  }>;
  ids(prefix?: string): Promise<string[]>;
  arrivals(): Promise<Map<string, bigint>>;
  reset(track?: boolean): Promise<void>;
  stop(): Promise<void>;
}

export async function startReceiver(): Promise<ReceiverProc> {
  const child = track(
    fork(path.join(DIST, 'bench/receiver.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const ask = <T>(msg: object, cmd: string) =>
    new Promise<T>((resolve, reject) => {
      const on = (m: { cmd: string }) => {
        if (m.cmd !== cmd) return;
        done();
        resolve(m as T);
      };
      const exited = () => {
        done();
        reject(new Error(`the receiver exited (waiting for ${cmd})`));
      };
      const done = () => {
        child.off('message', on);
        child.off('exit', exited);
      };
      if (child.exitCode !== null || child.signalCode !== null) return exited();
      child.on('message', on);
      child.once('exit', exited);
      child.send(msg, (err) => {
        if (!err) return;
        done();
        reject(err);
      });
    });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    stats: (prefix) => ask({ cmd: 'stats', prefix }, 'stats'),
    ids: async (prefix) => (await ask<{ ids: string[] }>({ cmd: 'ids', prefix }, 'ids')).ids,
    arrivals: async () =>
      new Map(
        (await ask<{ arrivals: [string, string][] }>({ cmd: 'arrivals' }, 'arrivals')).arrivals.map(([k, v]) => [
          k,
          BigInt(v),
        ]),
      ),
    reset: async (track = false) => void (await ask({ cmd: 'reset', track }, 'reset')),
    stop: () => stopChild(child),
  };
}

export type ServerProc = ServerProcess & {
  kill(signal?: NodeJS.Signals): Promise<void>;
};

export interface ServerOptions {
  env: Record<string, string>;
  /** 'server' (npm start's main) or 'worker' (hookline worker, no HTTP). */
  kind?: 'server' | 'worker';
  extraArgs?: string[];
  /** Another build's dist/ (bench/lib/release.ts); default this checkout's. */
  distRoot?: string;
}

/** The real server (the test kit's spawnServer: npm start's build and flags) with bench defaults. */
export async function startServer(opts: ServerOptions): Promise<ServerProc> {
  const { DATABASE_URL: url, ...env } = opts.env;
  if (!url) throw new Error('startServer needs env.DATABASE_URL');
  const proc = await spawnServer({ url } as TestDatabase, {
    kind: opts.kind,
    nodeArgs: opts.extraArgs,
    distRoot: opts.distRoot,
    // The defaults users get; a worker's readiness is its "hookline started" line (info).
    env: {
      HOOKLINE_LOG_LEVEL: opts.kind === 'worker' ? 'info' : 'warn',
      HOOKLINE_POLL_INTERVAL: '2s',
      HOOKLINE_DB_POOL_SIZE: '10',
      ...env,
    },
  });
  track(proc.child);
  try {
    await proc.ready(60_000);
  } catch (e) {
    // The kit's error carries stderr; the server's own log lines go to stdout.
    throw new Error(`${e instanceof Error ? e.message : String(e)}\nstdout: ${proc.stdout.slice(-10).join('\n')}`, {
      cause: e,
    });
  }
  return Object.assign(proc, { kill: (signal: NodeJS.Signals = 'SIGTERM') => stopChild(proc.child, signal) });
}

interface IpcChild {
  child: ChildProcess;
  /** What the child announced itself with (its `serve` hello). */
  hello: Record<string, unknown>;
  ask<T>(cmd: string, args?: unknown): Promise<T>;
}

/** A bench/lib/ipc.ts `serve` process; a command still unanswered when it exits fails instead of hanging. */
async function forkIpc(script: string, name: string, execArgv: string[] = []): Promise<IpcChild> {
  const child = track(
    fork(path.join(DIST, script), [name], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      execArgv,
    }),
  );
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let gone: Error | null = null;
  let next = 0;
  const hello = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.on('message', (m: { ready?: true; id: number; result?: unknown; error?: string }) => {
      if (m.ready) return resolve(m);
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(`${name}: ${m.error}`));
      else p?.resolve(m.result);
    });
    child.once('exit', (code, signal) => {
      gone = new Error(`${name} (${script}) exited with ${signal ?? code}`);
      reject(gone);
      for (const p of pending.values()) p.reject(gone);
      pending.clear();
    });
  });
  return {
    child,
    hello: await hello,
    ask: <T>(cmd: string, args?: unknown) =>
      new Promise<T>((resolve, reject) => {
        if (gone) return reject(gone);
        const id = next++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, cmd, args }, (err) => {
          if (err && pending.delete(id)) reject(err);
        });
      }),
  };
}

/** bench/generator.ts: HTTP load and feed subscribers, in a process of their own. */
export interface GeneratorProc {
  closed(load: ClosedLoad): Promise<LoadResult>;
  open(load: OpenLoad): Promise<LoadResult>;
  client(load: ClientLoad): Promise<LoadResult>;
  subscribe(s: Subscribe): Promise<void>;
  /** A raw graphql-transport-ws subscriber that subscribes to every attempt, then never reads again. */
  stall(s: Omit<Subscribe, 'clients' | 'variables'>): Promise<void>;
  unstall(): Promise<void>;
  feed(): Promise<FeedStats>;
  /** Closes connection pools and subscribers and forgets what they received (end of a scenario). */
  release(): Promise<void>;
}

export async function startGenerator(name = 'generator'): Promise<GeneratorProc> {
  const c = await forkIpc('bench/generator.js', name);
  const warn = (r: LoadResult) => {
    if (r.errors) process.stderr.write(`  (${name}: ${r.errors} failed requests; first: ${r.firstError})\n`);
    return r;
  };
  return {
    closed: async (load) => warn(await c.ask('closed', load)),
    open: async (load) => warn(await c.ask('open', load)),
    client: (load) => c.ask('client', load),
    subscribe: (s) => c.ask('subscribe', s),
    stall: (s) => c.ask('stall', s),
    unstall: () => c.ask('unstall'),
    feed: () => c.ask('feed'),
    release: () => c.ask('release'),
  };
}

/** bench/trivial-server.ts: the load generator's ceiling, measured against a server that does nothing. */
export async function startTrivialServer(): Promise<{ url: string }> {
  const c = await forkIpc('bench/trivial-server.js', 'trivial-server');
  return { url: `http://127.0.0.1:${c.hello.port as number}/graphql` };
}

export interface BaselineProc {
  /** graphile-worker's version, from the package the process loaded. */
  version: string;
  /** Migrates graphile-worker into the database and queues `jobs` deliveries to `url`, signed with `secret`. */
  prepare(opts: { databaseUrl: string; jobs: number; url: string; secret: string }): Promise<void>;
  /**
   * Starts the worker (run()); resolves once it is running, not once it has
   * drained. `tuned`: with the settings of graphile-worker's perfTest, else the library's defaults.
   */
  start(concurrency: number, tuned: boolean): Promise<void>;
  stop(): Promise<void>;
}

// The V8 flags `npm start` gives the server, given to the baseline too: the same memory bounds for the same work.
const START_FLAGS =
  (JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { config?: { nodeFlags?: string } }).config?.nodeFlags
    ?.split(' ')
    .filter(Boolean) ?? [];

/** bench/baseline-graphile.ts: graphile-worker + got doing Hookline's per-delivery work. */
export async function startBaseline(): Promise<BaselineProc> {
  const c = await forkIpc('bench/baseline-graphile.js', 'baseline-graphile', START_FLAGS);
  return {
    version: c.hello.version as string,
    prepare: (opts) => c.ask('prepare', opts),
    start: (concurrency, tuned) => c.ask('start', { concurrency, tuned }),
    stop: async () => {
      // A clean stop releases its pool's connections before the database is dropped; the kill is the backstop.
      await c.ask('stop').catch(() => undefined);
      await stopChild(c.child);
    },
  };
}
