import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A real HTTP destination on 127.0.0.1 that records what it receives and
// answers as each test tells it. Tests run it in their own process;
// benchmarks run the same code in a process of its own (bench/receiver.ts).

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** process.hrtime.bigint() when the request had fully arrived. */
  atNs: bigint;
}

export type Answer =
  | {
      status: number;
      headers?: Record<string, string>;
      body?: string;
      delayMs?: number;
      /** Answer only once this has settled (and delayMs has passed): a test decides when. */
      until?: Promise<unknown>;
    }
  | 'hang'
  | 'reset';
export type Responder = (req: Received) => Answer;

export interface ReceiverOptions {
  /** How to answer paths without a responder of their own (default 200 "ok"). */
  fallback?: Responder;
  /** Keep every request in `received` (default true; benchmarks count instead). */
  keep?: boolean;
  onReceive?: (req: Received) => void;
  port?: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  on(path: string, responder: Responder): void;
  close(): Promise<void>;
}

const ok: Responder = () => ({ status: 200, body: 'ok' });

export async function startReceiver(opts: ReceiverOptions = {}): Promise<Receiver> {
  const received: Received[] = [];
  const responders = new Map<string, Responder>();
  const fallback = opts.fallback ?? ok;
  const keep = opts.keep ?? true;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        atNs: process.hrtime.bigint(),
      };
      if (keep) received.push(r);
      opts.onReceive?.(r);
      const answer = (responders.get(r.path) ?? fallback)(r);
      if (answer === 'hang') return;
      if (answer === 'reset') return req.socket.destroy();
      const send = () => {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body ?? '');
      };
      const delayed = () => (answer.delayMs ? setTimeout(send, answer.delayMs) : send());
      if (answer.until) void answer.until.finally(delayed);
      else delayed();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    on: (path, responder) => responders.set(path, responder),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The most requests that arrived within any one second, from their arrival times (Received.atNs). */
export function busiestSecond(arrivals: bigint[]): number {
  const t = arrivals.map(Number).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= 1e9) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}
