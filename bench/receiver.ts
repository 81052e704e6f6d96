import { startReceiver, type Answer, type Received } from '../test/kit/receiver.js';

// The destination for benchmarks and drills: the test kit's receiver, in a
// process of its own so its CPU is not the server's or the load generator's,
// counting instead of keeping requests. Controlled over IPC. Paths choose
// behaviour: /ok (200), /slow (200 after 2 s), /reset (drops the connection),
// /flaky (500 half the time), /hang (never answers), /gone (410).

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

function count(r: Received): void {
  const path = r.path.split('?')[0]!;
  const base = '/' + path.split('/')[1];
  stats.total++;
  if (stats.firstNs === 0n) stats.firstNs = r.atNs;
  stats.lastNs = r.atNs;
  stats.byPath[base] = (stats.byPath[base] ?? 0) + 1;
  const id = r.headers['webhook-id'];
  if (typeof id !== 'string') return;
  const key = `${path} ${id}`;
  stats.ids.set(key, (stats.ids.get(key) ?? 0) + 1);
  if (trackArrivals && !stats.arrivals.has(id)) {
    try {
      const body = JSON.parse(r.body) as { data?: { id?: string } };
      stats.arrivals.set(String(body.data?.id ?? id), r.atNs);
    } catch {
      stats.arrivals.set(id, r.atNs);
    }
  }
}

function behaviour(r: Received): Answer {
  switch ('/' + r.path.split('/')[1]) {
    case '/slow':
      return { status: 200, body: 'ok', delayMs: 2000 };
    case '/reset':
      return 'reset';
    case '/flaky':
      return { status: flip++ % 2 ? 500 : 200 };
    case '/hang':
      return 'hang';
    case '/gone':
      return { status: 410 };
    case '/fail':
      return { status: 500, body: 'down' };
    default:
      return { status: 200, body: 'ok' };
  }
}

const receiver = await startReceiver({
  keep: false,
  fallback: behaviour,
  onReceive: count,
  port: Number(process.env.PORT ?? 0),
});

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

process.send!({ cmd: 'ready', port: Number(new URL(receiver.url).port) });
