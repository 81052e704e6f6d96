import 'reflect-metadata';
import { createKey, createWebhooks, freshDb, stopDatabase } from './lib/db.js';
import { GqlClient, PUBLISH, userPayload } from './lib/load.js';
import { startReceiver, startServer } from './lib/procs.js';
import { until } from './lib/stats.js';

// Delivery drain probe for profiling: `node dist/bench/probe-delivery.js [events] [webhooks]` (PROF=1 for --cpu-prof).
const n = Number(process.argv[2] ?? 5000);
const hooks = Number(process.argv[3] ?? 1);
const receiver = await startReceiver();
const db = await freshDb('probed');
const key = await createKey(db, 'SUPPORT');
await createWebhooks(
  db,
  Array.from({ length: hooks }, (_, i) => `${receiver.url}/ok/${i}`),
);
const pub = await startServer({ env: { DATABASE_URL: db.url, HOOKLINE_WORKER: 'false' } });
const client = new GqlClient(pub.url, key);
let next = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (next < n) {
      next++;
      await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`d${next}`) } });
    }
  }),
);
await client.close();
await pub.kill();
await receiver.reset();
const xacts = async () =>
  Number(
    (await db.pool.query('SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()')).rows[0]
      .xact_commit,
  );
const x0 = await xacts();
const server = await startServer({
  env: { DATABASE_URL: db.url },
  extraArgs: [
    ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
    ...(process.env.NODE_FLAGS ? process.env.NODE_FLAGS.split(' ') : []),
  ],
});
await until(async () => (await receiver.stats()).total >= n * hooks, 300_000, 'drain', 100);
const s = await receiver.stats();
console.log(
  `${n * hooks} deliveries: ${((n * hooks - 1) / (Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9)).toFixed(0)}/s, peak RSS ${server.peakRssMb().toFixed(0)} MB, duplicates ${s.duplicates}`,
);
console.log(
  `transactions during the drain: ${(await xacts()) - x0} (${(((await xacts()) - x0) / (n * hooks)).toFixed(2)} per delivery)`,
);
await server.kill('SIGINT');
await receiver.stop();
await db.close();
await stopDatabase();
process.exit(0);
