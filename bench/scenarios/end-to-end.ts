import { createKey, createWebhooks } from '../lib/db.js';
import {
  database,
  openLoopServer,
  publish,
  quick,
  record,
  released,
  scoped,
  server,
  type Bench,
} from '../lib/harness.js';
import type { LoadResult } from '../lib/ipc.js';
import type { ReceiverProc } from '../lib/procs.js';
import { latency, until } from '../lib/stats.js';

// Publish to delivery: each event timed from when an open loop was due to
// publish it to its arrival at the receiver, at 200 events/s and sustained at
// 1,000 events/s on one server (its worker in-process).

/** Open loop: from the time each publish was due to its arrival at the receiver (ms), for those that arrived. */
export async function arrivalLatency(
  receiver: ReceiverProc,
  prefix: string,
  r: LoadResult,
  rate: number,
): Promise<number[]> {
  const arrivals = await receiver.arrivals();
  const lat: number[] = [];
  for (let seq = 0; seq < r.count + r.errors; seq++) {
    const at = arrivals.get(`${prefix}${seq}`);
    if (at !== undefined) lat.push(Number(at - (r.startNs + BigInt(Math.round((seq * 1e9) / rate)))) / 1e6);
  }
  return lat;
}

/**
 * Sustained mixed load on one default server (its worker in-process): an open
 * loop of 1,000 publishes a second to one active webhook, every one delivered,
 * timed from when it was due to its arrival.
 */
export async function sustainedLoad(bench: Bench): Promise<void> {
  const { receiver, gen } = bench;
  await scoped(async (defer) => {
    const { srv, key } = await openLoopServer(bench, defer, 'sustained', 'sus');
    await gen.closed({ request: publish(srv.url, key, 'w'), concurrency: 8, requests: 1000 }); // warm-up
    await until(async () => (await receiver.stats('/ok/sus')).unique >= 1000, 60_000, 'warm-up receipts', 50);
    await receiver.reset(true);
    const rate = 1000;
    const r = await gen.open({ request: publish(srv.url, key, 's'), rate, seconds: quick ? 5 : 20 });
    await until(async () => (await receiver.stats('/ok/sus')).unique >= r.count, 120_000, 'sustained receipts', 100);
    const s = await receiver.stats('/ok/sus');
    const l = latency(await arrivalLatency(receiver, 's', r, rate));
    record('sustained 1,000 events/s, one server: published', 'events/s', r.rate, '≥ 1000', (m) => m >= 990);
    record(
      'sustained 1,000 events/s, one server: delivered',
      'deliveries/s',
      (s.unique - 1) / (Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9),
      '≥ 1000',
      (m) => m >= 990,
    );
    record('sustained 1,000 events/s: publish p99', 'ms', r.p99);
    record('sustained 1,000 events/s: end-to-end p50', 'ms', l.p50);
    record('sustained 1,000 events/s: end-to-end p99', 'ms', l.p99, '≤ 250 ms', (m) => m <= 250);
    record('peak RSS of the server under sustained load', 'MB', srv.peakRssMb(), '≤ 200 MB', (m) => m <= 200);
    await receiver.reset();
  });
}

/** Publishes at a fixed 200/s (an open loop) and times each event from when it was due to its receipt. */
export async function endToEnd(bench: Bench): Promise<void> {
  const { receiver, gen } = bench;
  await scoped(async (defer) => {
    const db = await database(defer, 'e2e');
    const key = await createKey(db, 'PUBLISHER');
    await createWebhooks(db, [`${receiver.url}/ok/e2e`]);
    const srv = await server(defer, { env: { DATABASE_URL: db.url } });
    released(defer, bench);
    // Warm-up (JIT, pool connections, API key cache), as in the publish scenario.
    await gen.closed({ request: publish(srv.url, key, 'w'), concurrency: 1, requests: 200 });
    await until(async () => (await receiver.stats('/ok/e2e')).unique >= 200, 30_000, 'warm-up receipts', 50);
    await receiver.reset(true);
    const rate = 200;
    const r = await gen.open({ request: publish(srv.url, key, 'l'), rate, seconds: quick ? 5 : 30 });
    await until(async () => (await receiver.stats('/ok/e2e')).unique >= r.count, 60_000, 'e2e receipts', 100);
    const l = latency(await arrivalLatency(receiver, 'l', r, rate));
    record('end-to-end at 200 events/s: p50', 'ms', l.p50, '≤ 5 ms', (m) => m <= 5);
    record('end-to-end at 200 events/s: p99', 'ms', l.p99, '≤ 25 ms', (m) => m <= 25);
    await receiver.reset();
  });
}
