import 'reflect-metadata';
import { createKey, createWebhooks, freshDb, stopDatabase } from './lib/db.js';
import { GqlClient, PUBLISH, userPayload } from './lib/load.js';
import { startReceiver, startServer } from './lib/procs.js';
import { latency, sleep, until } from './lib/stats.js';

// End-to-end probe: `node dist/bench/probe-e2e.js [rate] [seconds]`; splits publish latency from delivery.
const rate = Number(process.argv[2] ?? 200);
const seconds = Number(process.argv[3] ?? 5);
const receiver = await startReceiver();
const db = await freshDb('probee');
const key = await createKey(db, 'PUBLISHER');
await createWebhooks(db, [`${receiver.url}/ok/e`]);
const server = await startServer({
  env: { DATABASE_URL: db.url, HOOKLINE_LOG_LEVEL: process.env.LOG ?? 'warn' },
  extraArgs: process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [],
});
const client = new GqlClient(server.url, key);
await receiver.reset(true);
const sent = new Map<string, bigint>();
const answered = new Map<string, bigint>();
const all: Promise<unknown>[] = [];
const start = performance.now();
for (let i = 0; i < rate * seconds; i++) {
  const wait = start + (i * 1000) / rate - performance.now();
  if (wait > 0) await sleep(wait);
  const id = `x${i}`;
  sent.set(id, process.hrtime.bigint());
  all.push(
    client
      .post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(id) } })
      .then(() => answered.set(id, process.hrtime.bigint())),
  );
}
await Promise.all(all);
await until(async () => (await receiver.stats('/ok/e')).unique >= sent.size, 60_000, 'receipts', 100);
const arrivals = await receiver.arrivals();
const pub = latency([...sent].map(([id, t]) => Number(answered.get(id)! - t) / 1e6));
const e2e = latency([...sent].map(([id, t]) => Number(arrivals.get(id)! - t) / 1e6));
const afterAnswer = latency([...sent].map(([id]) => Number(arrivals.get(id)! - answered.get(id)!) / 1e6));
console.log(
  `publish answered p50 ${pub.p50.toFixed(1)} p99 ${pub.p99.toFixed(1)}; receipt p50 ${e2e.p50.toFixed(1)} p99 ${e2e.p99.toFixed(1)}; receipt minus answer p50 ${afterAnswer.p50.toFixed(1)} p99 ${afterAnswer.p99.toFixed(1)} ms`,
);
await client.close();
await server.kill('SIGINT');
await receiver.stop();
await db.close();
await stopDatabase();
process.exit(0);
