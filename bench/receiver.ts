import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The destination for benchmarks and drills, in a process of its own so its
// CPU is not the server's or the load generator's. Controlled over IPC.
// Paths choose behaviour: /ok (200), /slow (200 after 2 s), /reset (drops the
// connection), /flaky (500 half the time), /hang (never answers), /gone (410).

interface Stats {
  total: number;
  firstNs: bigint;
  lastNs: bigint;
  byPath: Record<string, number>;
  ids: Map<string, number>;
  arrivals: Map<string, bigint>;
}

const stats: Stats = { total: 0, firstNs: 0n, lastNs: 0n, byPath: {}, ids: new Map(), arrivals: new Map() };
let trackArrivals = false;
let flip = 0;

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0]!;
    const base = '/' + path.split('/')[1];
    stats.total++;
    if (stats.firstNs === 0n) stats.firstNs = at;
    stats.lastNs = at;
    stats.byPath[base] = (stats.byPath[base] ?? 0) + 1;
    const id = req.headers['webhook-id'];
    if (typeof id === 'string') {
      const key = `${path} ${id}`;
      stats.ids.set(key, (stats.ids.get(key) ?? 0) + 1);
      if (trackArrivals && !stats.arrivals.has(id)) {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { id?: string } };
          stats.arrivals.set(String(body.data?.id ?? id), at);
        } catch {
          stats.arrivals.set(id, at);
        }
      }
    }
    switch (base) {
      case '/slow':
        setTimeout(() => res.end('ok'), 2000);
        return;
      case '/reset':
        req.socket.destroy();
        return;
      case '/flaky':
        res.statusCode = flip++ % 2 ? 500 : 200;
        res.end();
        return;
      case '/hang':
        return;
      case '/gone':
        res.statusCode = 410;
        res.end();
        return;
      default:
        res.end('ok');
    }
  });
});
server.keepAliveTimeout = 60_000;

process.on('message', (m: { cmd: string; track?: boolean; prefix?: string }) => {
  switch (m.cmd) {
    case 'stats': {
      const prefix = m.prefix ?? '';
      let unique = 0;
      let duplicates = 0;
      for (const [k, n] of stats.ids) {
        if (!k.startsWith(prefix)) continue;
        unique++;
        duplicates += n - 1;
      }
      process.send!({
        cmd: 'stats',
        total: stats.total,
        byPath: stats.byPath,
        unique,
        duplicates,
        firstNs: stats.firstNs.toString(),
        lastNs: stats.lastNs.toString(),
      });
      break;
    }
    case 'ids': {
      const prefix = m.prefix ?? '';
      process.send!({
        cmd: 'ids',
        ids: [...stats.ids.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.split(' ')[1]),
      });
      break;
    }
    case 'arrivals':
      process.send!({ cmd: 'arrivals', arrivals: [...stats.arrivals].map(([k, v]) => [k, v.toString()]) });
      break;
    case 'reset':
      stats.total = 0;
      stats.firstNs = 0n;
      stats.lastNs = 0n;
      stats.byPath = {};
      stats.ids.clear();
      stats.arrivals.clear();
      trackArrivals = m.track ?? false;
      process.send!({ cmd: 'reset' });
      break;
  }
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.send!({ cmd: 'ready', port: (server.address() as AddressInfo).port });
});
