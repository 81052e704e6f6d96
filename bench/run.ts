import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { adminUrl, createKey, createWebhooks, freshDb, stopDatabase } from './lib/db.js';
import { GqlClient, PUBLISH, closedLoop, gotRate, undiciRate, userPayload } from './lib/load.js';
import { startReceiver, startServer, type ReceiverProc } from './lib/procs.js';
import { latency, sleep, summary, until } from './lib/stats.js';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { insertEvents } from '../src/storage/sql/events.js';

// `npm run bench [-- --quick]`: every scenario against the real server process
// (the `npm start` build) and a receiver process on 127.0.0.1, with this
// process as the load generator. Each figure is the median of RUNS runs.

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 3;
const CAP = 10; // HOOKLINE_PER_WEBHOOK_CONCURRENCY default: the concurrency the client limit is measured at
const ENVELOPE = JSON.stringify({
  id: '3f0c5a8e-0000-4000-8000-000000000000',
  type: 'user.created',
  timestamp: new Date().toISOString(),
  data: userPayload('42'),
});

type Row = {
  name: string;
  unit: string;
  values: number[];
  target?: string;
  ok?: (median: number) => boolean;
  note?: string;
};
const rows: Row[] = [];
function record(name: string, unit: string, value: number, target?: string, ok?: (m: number) => boolean): void {
  let row = rows.find((r) => r.name === name);
  if (!row) rows.push((row = { name, unit, values: [], target, ok }));
  row.values.push(value);
  process.stderr.write(`  ${name}: ${value.toFixed(unit === 'ratio' ? 3 : 1)} ${unit}\n`);
}

async function clientLimit(receiver: ReceiverProc): Promise<{ got: number }> {
  const ms = quick ? 2000 : 4000;
  const gotR = await gotRate(`${receiver.url}/ok`, ENVELOPE, CAP, ms);
  record('client limit: got, concurrency 10', 'req/s', gotR);
  const undici = await undiciRate(`${receiver.url}/ok`, ENVELOPE, CAP, ms);
  record('client limit: undici request(), concurrency 10', 'req/s', undici);
  return { got: gotR };
}

/** Publishes with workers off, then starts the server with its worker and times the drain. */
async function deliveryThroughput(
  receiver: ReceiverProc,
  webhooks: number,
  perWebhook: number,
  gotLimit: number,
): Promise<void> {
  const total = webhooks * perWebhook;
  const db = await freshDb('throughput');
  await createWebhooks(
    db,
    Array.from({ length: webhooks }, (_, i) => `${receiver.url}/ok/${i}`),
  );
  // The backlog goes in through publishEvent's own statement, in batches: building it is not what is measured.
  for (let i = 0; i < perWebhook; i += 1000) {
    await insertEvents(
      db.pool,
      Array.from({ length: Math.min(1000, perWebhook - i) }, (_, j) => ({
        id: randomUUID(),
        resource: 'USERS',
        action: 'CREATE',
        type: 'user.created',
        payload: JSON.stringify(userPayload(`t${i + j}`)),
        occurredAt: null,
        idempotencyKey: null,
      })),
    );
  }
  await receiver.reset();

  const server = await startServer({ env: { DATABASE_URL: db.url } });
  await until(async () => (await receiver.stats()).total >= total, 600_000, 'all deliveries', 100);
  await until(
    async () =>
      (await db.pool.query(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'SUCCEEDED'`)).rows[0].n === total,
    60_000,
    'all SUCCEEDED',
    100,
  );
  const s = await receiver.stats();
  const seconds = Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9;
  const rate = (total - 1) / seconds;
  const label =
    webhooks === 1
      ? `delivery throughput: 1 webhook × ${total}`
      : `delivery throughput: ${webhooks} webhooks × ${perWebhook}`;
  record(label, 'deliveries/s', rate);
  if (webhooks === 1) {
    record('delivery throughput ÷ got client limit', 'ratio', rate / gotLimit, '≥ 0.85', (m) => m >= 0.85);
    record('peak RSS of the server during delivery throughput', 'MB', server.peakRssMb(), '≤ 200 MB', (m) => m <= 200);
  }
  if (s.duplicates > 0) process.stderr.write(`  (${s.duplicates} duplicate receipts)\n`);
  await server.kill();
  await db.close();
}

/**
 * publishEvent at concurrency 32, against the default server (its worker
 * delivers at the same time, on the same event loop) and against an API-only
 * server (HOOKLINE_WORKER=false) with a separate `hookline worker` process.
 */
async function publishRate(receiver: ReceiverProc, apiOnly: boolean): Promise<void> {
  const db = await freshDb('publish');
  const key = await createKey(db, 'PUBLISHER');
  await createWebhooks(db, [`${receiver.url}/ok/p`]);
  await receiver.reset();
  const server = await startServer({ env: { DATABASE_URL: db.url, HOOKLINE_WORKER: apiOnly ? 'false' : 'true' } });
  const worker = apiOnly ? await startServer({ env: { DATABASE_URL: db.url }, kind: 'worker' }) : null;
  const client = new GqlClient(server.url, key);
  const ms = quick ? 3000 : 20_000;
  const label = apiOnly ? 'publish (API-only server + worker process)' : 'publish (default server, worker in-process)';
  await closedLoop(8, 1000, async () => void (await client.post('{ __typename }'))); // warm-up
  let i = 0;
  const pub = await closedLoop(32, ms, async () => {
    await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`p${i++}`) } });
  });
  const l = latency(pub.latenciesMs);
  record(`${label}: events/s at concurrency 32`, 'events/s', pub.count / pub.seconds, '≥ 2000', (m) => m >= 2000);
  record(`${label}: p50 latency`, 'ms', l.p50);
  record(`${label}: p99 latency`, 'ms', l.p99, '≤ 30 ms', (m) => m <= 30);
  await until(
    async () => (await receiver.stats('/ok/p')).unique >= pub.count,
    300_000,
    'publish backlog delivered',
    200,
  );
  const trivial = await closedLoop(32, quick ? 3000 : 5000, async () => void (await client.post('{ __typename }')));
  record(`${label}: GraphQL ceiling, { __typename } at concurrency 32`, 'req/s', trivial.count / trivial.seconds);
  record(
    `${label}: publish ÷ trivial query rate`,
    'ratio',
    pub.count / pub.seconds / (trivial.count / trivial.seconds),
    '≥ 0.5',
    (m) => m >= 0.5,
  );
  await client.close();
  await worker?.kill();
  await server.kill();
  await db.close();
}

async function endToEnd(receiver: ReceiverProc): Promise<void> {
  const db = await freshDb('e2e');
  const key = await createKey(db, 'PUBLISHER');
  await createWebhooks(db, [`${receiver.url}/ok/e2e`]);
  const server = await startServer({ env: { DATABASE_URL: db.url } });
  const client = new GqlClient(server.url, key);
  // Warm-up (JIT, pool connections, API key cache), as in the publish scenario.
  for (let i = 0; i < 200; i++)
    await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`w${i}`) } });
  await until(async () => (await receiver.stats('/ok/e2e')).unique >= 200, 30_000, 'warm-up receipts', 50);
  await receiver.reset(true);
  const rate = 200;
  const seconds = quick ? 5 : 30;
  const sent = new Map<string, bigint>();
  const inflight: Promise<unknown>[] = [];
  const start = performance.now();
  for (let i = 0; i < rate * seconds; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const id = `l${i}`;
    sent.set(id, process.hrtime.bigint());
    inflight.push(client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(id) } }));
  }
  await Promise.all(inflight);
  await until(async () => (await receiver.stats('/ok/e2e')).unique >= sent.size, 60_000, 'e2e receipts', 100);
  const arrivals = await receiver.arrivals();
  const lat = [...sent].map(([id, t]) => Number(arrivals.get(id)! - t) / 1e6);
  const l = latency(lat);
  record('end-to-end at 200 events/s: p50', 'ms', l.p50, '≤ 5 ms', (m) => m <= 5);
  record('end-to-end at 200 events/s: p99', 'ms', l.p99, '≤ 25 ms', (m) => m <= 25);
  await receiver.reset();
  await client.close();
  await server.kill();
  await db.close();
}

async function fanOut(receiver: ReceiverProc): Promise<void> {
  const db = await freshDb('fanout');
  const key = await createKey(db, 'PUBLISHER');
  await createWebhooks(
    db,
    Array.from({ length: 1000 }, (_, i) => `${receiver.url}/ok/f${i}`),
  );
  const server = await startServer({ env: { DATABASE_URL: db.url } });
  const client = new GqlClient(server.url, key);
  await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload('warm') } });
  await until(async () => (await receiver.stats('/ok/f')).unique >= 1000, 30_000, 'warm-up fan-out', 20);
  for (let run = 0; run < RUNS; run++) {
    await receiver.reset();
    const t0 = process.hrtime.bigint();
    await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`f${run}`) } });
    const publishMs = Number(process.hrtime.bigint() - t0) / 1e6;
    await until(async () => (await receiver.stats()).total >= 1000, 30_000, 'fan-out receipts', 5);
    const s = await receiver.stats();
    record('fan-out to 1,000 webhooks: publishEvent latency', 'ms', publishMs, '≤ 30 ms', (m) => m <= 30);
    record(
      'fan-out to 1,000 webhooks: all delivered',
      'ms',
      Number(BigInt(s.lastNs) - t0) / 1e6,
      '≤ 1000 ms',
      (m) => m <= 1000,
    );
  }
  await client.close();
  await server.kill();
  await db.close();
}

async function liveFeed(receiver: ReceiverProc): Promise<void> {
  const db = await freshDb('feed');
  const publisherKey = await createKey(db, 'PUBLISHER');
  const viewerKey = await createKey(db, 'VIEWER');
  await createWebhooks(db, [`${receiver.url}/ok/feed`]);
  const server = await startServer({ env: { DATABASE_URL: db.url } });
  const client = new GqlClient(server.url, publisherKey);
  const latencies: number[] = [];
  const attempts = quick ? 200 : 1000;
  const clients = Array.from({ length: 100 }, () =>
    createClient({
      url: server.url.replace('http', 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${viewerKey}` },
      lazy: false,
    }),
  );
  let received = 0;
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((ready) => {
          c.subscribe<{ deliveryAttempts: { startedAt: string; durationMs: number } }>(
            { query: 'subscription { deliveryAttempts { startedAt durationMs } }' },
            {
              next: ({ data }) => {
                received++;
                if (data)
                  latencies.push(
                    Date.now() - (Date.parse(data.deliveryAttempts.startedAt) + data.deliveryAttempts.durationMs),
                  );
              },
              error: () => undefined,
              complete: () => undefined,
            },
          );
          c.on('connected', () => ready());
        }),
    ),
  );
  await sleep(300);
  for (let i = 0; i < attempts; i++) {
    await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`lf${i}`) } });
    await sleep(10);
  }
  await until(async () => received >= attempts * 100, 60_000, 'feed messages', 50);
  const l = latency(latencies);
  record('live feed, 100 subscribers: attempt-to-client p50', 'ms', l.p50);
  record('live feed, 100 subscribers: attempt-to-client p99', 'ms', l.p99, '≤ 50 ms', (m) => m <= 50);
  await Promise.all(clients.map(async (c) => c.dispose()));
  await client.close();
  await server.kill();
  await db.close();
}

/**
 * What a dashboard that stops reading costs the delivery rate: the same drain
 * (webhook paused while its backlog is published, then resumed) with 5 reading
 * subscribers, and with 5 readers plus a raw subscriber that pauses its socket.
 * Moved here from the test suite: a throughput ratio is a measurement, not a pass/fail test.
 */
async function stalledSubscriber(receiver: ReceiverProc): Promise<void> {
  const db = await freshDb('stall');
  const publisherKey = await createKey(db, 'PUBLISHER');
  const supportKey = await createKey(db, 'SUPPORT');
  const viewerKey = await createKey(db, 'VIEWER');
  const [webhookId] = await createWebhooks(db, [`${receiver.url}/ok/stall`]);
  const server = await startServer({ env: { DATABASE_URL: db.url } });
  const publisher = new GqlClient(server.url, publisherKey);
  const support = new GqlClient(server.url, supportKey);
  const wsUrl = server.url.replace('http', 'ws');
  const readers = Array.from({ length: 5 }, () =>
    createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${viewerKey}` } }),
  );
  for (const c of readers) {
    c.subscribe(
      { query: 'subscription($w: ID) { deliveryAttempts(webhookId: $w) { id } }', variables: { w: webhookId } },
      { next: () => undefined, error: () => undefined, complete: () => undefined },
    );
  }
  const n = quick ? 1000 : 3000;
  let seq = 0;
  const drain = async (): Promise<number> => {
    await support.post('mutation($id: ID!) { pauseWebhook(id: $id) { id } }', { id: webhookId });
    await receiver.reset();
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, () =>
          publisher.post(PUBLISH, {
            input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`s${seq++}`) },
          }),
        ),
      );
    }
    const t0 = process.hrtime.bigint();
    await support.post('mutation($id: ID!) { resumeWebhook(id: $id) { id } }', { id: webhookId });
    await until(async () => (await receiver.stats('/ok/stall')).unique >= n, 120_000, 'stall drain', 50);
    return n / (Number(process.hrtime.bigint() - t0) / 1e9);
  };
  const rates = { readers: [] as number[], stalled: [] as number[] };
  await drain(); // warm-up
  for (let round = 0; round < RUNS; round++) {
    rates.readers.push(await drain());
    // A raw graphql-transport-ws client that subscribes to every attempt and never reads again.
    const raw = new WebSocket(wsUrl, 'graphql-transport-ws');
    await new Promise((r) => raw.once('open', r));
    raw.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${viewerKey}` } }));
    await new Promise((r) => raw.once('message', r));
    raw.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: 'subscription { deliveryAttempts { id errorMessage } }' },
      }),
    );
    (raw as unknown as { _socket: { pause(): void } })._socket.pause();
    rates.stalled.push(await drain());
    raw.terminate();
  }
  for (let i = 0; i < RUNS; i++) {
    record('stalled subscriber: delivery rate with 5 reading subscribers', 'deliveries/s', rates.readers[i]!);
    record('stalled subscriber: delivery rate with 5 readers + 1 stalled', 'deliveries/s', rates.stalled[i]!);
    record(
      'stalled subscriber: stalled ÷ readers only',
      'ratio',
      rates.stalled[i]! / rates.readers[i]!,
      '≥ 0.9',
      (m) => m >= 0.9,
    );
  }
  await Promise.all(readers.map(async (c) => c.dispose()));
  await publisher.close();
  await support.close();
  await server.kill();
  await db.close();
}

async function environment(): Promise<string[]> {
  const c = new pg.Client({ connectionString: await adminUrl() });
  await c.connect();
  const v = (await c.query('SHOW server_version')).rows[0].server_version as string;
  await c.end();
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version}, PostgreSQL ${v} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'})`,
    `- runs per figure: ${RUNS}${quick ? ' (--quick)' : ''}`,
  ];
}

function table(): string[] {
  const out = [
    '| scenario | median | min | max | unit | target | met |',
    '| --- | ---: | ---: | ---: | --- | --- | --- |',
  ];
  for (const r of rows) {
    const s = summary(r.values);
    const f = (x: number) => (r.unit === 'ratio' ? x.toFixed(2) : x >= 100 ? x.toFixed(0) : x.toFixed(1));
    out.push(
      `| ${r.name} | ${f(s.median)} | ${f(s.min)} | ${f(s.max)} | ${r.unit} | ${r.target ?? ''} | ${r.ok ? (r.ok(s.median) ? 'yes' : '**no**') : ''} |`,
    );
  }
  return out;
}

async function main(): Promise<void> {
  const started = Date.now();
  const env = await environment();
  const receiver = await startReceiver();
  for (let run = 0; run < RUNS; run++) {
    process.stderr.write(`run ${run + 1}/${RUNS}\n`);
    const { got } = await clientLimit(receiver);
    await deliveryThroughput(receiver, 1, quick ? 4000 : 20_000, got);
    await deliveryThroughput(receiver, 10, quick ? 400 : 2000, got);
    await publishRate(receiver, false);
    await publishRate(receiver, true);
    await endToEnd(receiver);
  }
  await fanOut(receiver);
  for (let run = 0; run < RUNS; run++) await liveFeed(receiver);
  await stalledSubscriber(receiver);
  await receiver.stop();
  await stopDatabase();

  const md = [
    '# Benchmarks',
    '',
    'Written by `npm run bench`' + (quick ? ' (--quick: one short run each; not the reference figures)' : '') + '.',
    '',
    ...env,
    `- wall time: ${((Date.now() - started) / 1000).toFixed(0)} s`,
    '',
    ...table(),
    '',
  ];
  const file = quick ? 'BENCHMARKS.quick.md' : 'BENCHMARKS.md';
  writeFileSync(file, mergeNotes(file, md.join('\n')));
  process.stdout.write(md.join('\n') + '\n');
}

/** Keeps the hand-written analysis below the marker when the table is regenerated. */
function mergeNotes(file: string, generated: string): string {
  const marker = '<!-- notes -->';
  let notes = `${marker}\n`;
  try {
    const old = readFileSync(file, 'utf8');
    const at = old.indexOf(marker);
    if (at >= 0) notes = old.slice(at);
  } catch {
    /* first run */
  }
  return `${generated}\n${notes}`;
}

main().then(
  () => process.exit(0),
  async (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await stopDatabase().catch(() => undefined);
    process.exit(1);
  },
);
