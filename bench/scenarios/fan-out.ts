import { createKey, createWebhooks } from '../lib/db.js';
import { call, database, publish, record, released, scoped, server, type Bench } from '../lib/harness.js';
import { until } from '../lib/stats.js';

// Fan-out: one event to 1,000 webhooks, from publishEvent to the last
// receipt, and publishEvent's latency with every subscription filtered and
// without filters.

/** One publishEvent to 1,000 webhooks: its latency, and from its start to the last of the 1,000 receipts. */
export async function fanOut(bench: Bench): Promise<void> {
  const { receiver, gen } = bench;
  await scoped(async (defer) => {
    const db = await database(defer, 'fanout');
    const key = await createKey(db, 'PUBLISHER');
    await createWebhooks(
      db,
      Array.from({ length: 1000 }, (_, i) => `${receiver.url}/ok/f${i}`),
    );
    const srv = await server(defer, { env: { DATABASE_URL: db.url } });
    released(defer, bench);
    await call(gen, publish(srv.url, key, 'warm'));
    await until(async () => (await receiver.stats('/ok/f')).unique >= 1000, 30_000, 'warm-up fan-out', 20);
    await receiver.reset();
    const pub = await call(gen, publish(srv.url, key, 'f'));
    await until(async () => (await receiver.stats()).total >= 1000, 30_000, 'fan-out receipts', 5);
    const s = await receiver.stats();
    record('fan-out to 1,000 webhooks: publishEvent latency', 'ms', pub.p50, '≤ 30 ms', (m) => m <= 30);
    record(
      'fan-out to 1,000 webhooks: all delivered',
      'ms',
      Number(BigInt(s.lastNs) - pub.startNs) / 1e6,
      '≤ 1000 ms',
      (m) => m <= 1000,
    );
  });
}

/**
 * One event to 1,000 webhooks, published 20 times one after another against
 * an API-only server (no worker competing), with every subscription filtered
 * (a filter that matches: every delivery is still made) and without filters.
 */
export async function filteredFanOut(bench: Bench): Promise<void> {
  const { receiver, gen } = bench;
  const filter = {
    email: { $ne: 'nobody@example.com' },
    locale: { $in: ['en', 'fr', 'de'] },
    roles: { $exists: true },
  };
  const latency: Record<string, number> = {};
  for (const filtered of [false, true]) {
    await scoped(async (defer) => {
      const db = await database(defer, 'filters');
      const key = await createKey(db, 'PUBLISHER');
      await createWebhooks(
        db,
        Array.from({ length: 1000 }, (_, i) => `${receiver.url}/ok/ff${i}`),
        filtered ? { filter } : {},
      );
      const srv = await server(defer, { env: { DATABASE_URL: db.url, HOOKLINE_WORKER: 'false' } });
      released(defer, bench);
      await gen.closed({ request: publish(srv.url, key, 'w'), concurrency: 1, requests: 3 }); // warm-up
      const r = await gen.closed({ request: publish(srv.url, key, 'f'), concurrency: 1, requests: 20 });
      const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries`);
      if (rows[0]!.n !== 23_000)
        throw new Error(`expected 23,000 deliveries, found ${rows[0]!.n}: the filter must match`);
      latency[filtered ? 'with' : 'without'] = r.p50;
    });
  }
  record('fan-out to 1,000 webhooks, no filters: publishEvent p50', 'ms', latency.without!);
  record('fan-out to 1,000 webhooks, every subscription filtered: publishEvent p50', 'ms', latency.with!);
  record('fan-out publish, filtered ÷ unfiltered', 'ratio', latency.with! / latency.without!, '≤ 2', (m) => m <= 2);
}
