import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, until } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DIST = path.resolve(here, '../..');

// The V8 flags `npm start` runs the server with (package.json config.nodeFlags).
const START_FLAGS =
  (
    JSON.parse(readFileSync(path.resolve(DIST, '../package.json'), 'utf8')) as { config?: { nodeFlags?: string } }
  ).config?.nodeFlags
    ?.split(' ')
    .filter(Boolean) ?? [];

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ReceiverProc {
  url: string;
  child: ChildProcess;
  stats(
    prefix?: string,
  ): Promise<{
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

export interface ServerProc {
  url: string;
  port: number;
  child: ChildProcess;
  /** Peak resident set size so far (VmHWM), in MB. */
  peakRssMb(): number;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ServerOptions {
  env: Record<string, string>;
  /** 'server' (npm start's main) or 'worker' (hookline worker, no HTTP). */
  kind?: 'server' | 'worker';
  port?: number;
  extraArgs?: string[];
}

export async function startServer(opts: ServerOptions): Promise<ServerProc> {
  const port = opts.port ?? (await freePort());
  const kind = opts.kind ?? 'server';
  const script = kind === 'server' ? 'src/main.js' : 'src/cli/index.js';
  const args = [
    ...START_FLAGS,
    ...(opts.extraArgs ?? []),
    path.join(DIST, script),
    ...(kind === 'worker' ? ['worker'] : []),
  ];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      HOOKLINE_LOG_LEVEL: 'warn',
      HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'true',
      ...opts.env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}/graphql`;
  if (kind === 'server') {
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
        } catch {
          return false;
        }
      },
      60_000,
      'server ready',
      100,
    );
  } else {
    await sleep(1500);
  }
  return {
    url,
    port,
    child,
    peakRssMb: () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : NaN;
      } catch {
        return NaN;
      }
    },
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}
