import 'reflect-metadata';
import { createKey, createWebhooks, freshDb, stopDatabase } from './lib/db.js';
import { GqlClient, PUBLISH, closedLoop, userPayload } from './lib/load.js';
import { startReceiver, startServer } from './lib/procs.js';
import { latency } from './lib/stats.js';

// A quick publish probe for profiling: `node dist/bench/probe.js [worker=true|false] [seconds]`.
const worker = process.argv[2] ?? 'true';
const seconds = Number(process.argv[3] ?? 5);
const receiver = await startReceiver();
const db = await freshDb('probe');
const key = await createKey(db, 'PUBLISHER');
await createWebhooks(db, [`${receiver.url}/ok/p`]);
const server = await startServer({
  env: { DATABASE_URL: db.url, HOOKLINE_WORKER: worker },
  extraArgs: [
    ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
    ...(process.env.PROBE_ARGS?.split(' ').filter(Boolean) ?? []),
  ],
});
const client = new GqlClient(server.url, key);
let i = 0;
await closedLoop(8, 1000, async () => void (await client.post('{ __typename }')));
const r = await closedLoop(32, seconds * 1000, async () => {
  await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`p${i++}`) } });
});
const l = latency(r.latenciesMs);
console.log(
  `worker=${worker}: ${(r.count / r.seconds).toFixed(0)} publishes/s p50 ${l.p50.toFixed(1)} p99 ${l.p99.toFixed(1)} errors ${r.errors}`,
);
await client.close();
await server.kill('SIGINT');
await receiver.stop();
await db.close();
await stopDatabase();
process.exit(0);
