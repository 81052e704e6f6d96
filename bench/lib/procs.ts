import { fork, type ChildProcess } from 'node:child_process';
import { spawnServer, type ServerProcess } from '../../test/kit/server.js';
import type { TestDatabase } from '../../test/kit/db.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DIST = path.resolve(here, '../..');

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
  const child = fork(path.join(DIST, 'bench/receiver.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(msg: object, cmd: string) =>
    new Promise<T>((resolve) => {
      const on = (m: { cmd: string }) => {
        if (m.cmd !== cmd) return;
        child.off('message', on);
        resolve(m as T);
      };
      child.on('message', on);
      child.send(msg);
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
    stop: async () => {
      child.kill('SIGKILL');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    },
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
}

/** The real server (the test kit's spawnServer: npm start's build and flags) with bench defaults. */
export async function startServer(opts: ServerOptions): Promise<ServerProc> {
  const { DATABASE_URL: url, ...env } = opts.env;
  if (!url) throw new Error('startServer needs env.DATABASE_URL');
  const proc = await spawnServer({ url } as TestDatabase, {
    kind: opts.kind,
    nodeArgs: opts.extraArgs,
    // The defaults users get; a worker's readiness is its "hookline started" line (info).
    env: {
      HOOKLINE_LOG_LEVEL: opts.kind === 'worker' ? 'info' : 'warn',
      HOOKLINE_POLL_INTERVAL: '2s',
      HOOKLINE_DB_POOL_SIZE: '10',
      ...env,
    },
  });
  await proc.ready(60_000);
  return Object.assign(proc, {
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      proc.child.kill(signal);
      await proc.exited;
    },
  });
}
