import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A real HTTP destination on 127.0.0.1 that records what it receives and
// answers as each test tells it.

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export type Responder = (
  req: Received,
) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang' | 'reset';

export interface Receiver {
  url: string;
  received: Received[];
  on(path: string, responder: Responder): void;
  close(): Promise<void>;
}

const okResponder: Responder = () => ({ status: 200, body: 'ok' });

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const responders = new Map<string, Responder>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(r);
      const answer = (responders.get(r.path) ?? okResponder)(r);
      if (answer === 'hang') return;
      if (answer === 'reset') return req.socket.destroy();
      const send = () => {
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
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
