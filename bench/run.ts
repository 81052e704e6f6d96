import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { parseKeyring, placeOf, seal } from '../src/domain/secret-box.js';
import { newWebhookSecret } from '../src/domain/tokens.js';
import { insertEvents } from '../src/storage/sql/events.js';
import { TEST_SECRET_KEYS } from '../test/kit/server.js';
import { adminUrl, createKey, createWebhooks, freshDb, stopDatabase, type BenchDb } from './lib/db.js';
import { SEQ, type GqlRequest, type LoadResult } from './lib/ipc.js';
import { PUBLISH, userPayload } from './lib/load.js';
import {
  killAll,
  startBaseline,
  startGenerator,
  startReceiver,
  startServer,
  startTrivialServer,
  type GeneratorProc,
  type ReceiverProc,
  type ServerOptions,
  type ServerProc,
} from './lib/procs.js';
import { latency, sleep, summary, until } from './lib/stats.js';

// `npm run bench [-- --quick]`: every scenario against the real server process
// (the `npm start` build), with a receiver, a load generator, a feed-subscriber
// process and a trivial HTTP server of their own on 127.0.0.1. This process
// only seeds databases, starts and stops processes and collects results, so it
// never competes with what it times. RUNS rounds, each running every scenario
// once (client limits, baseline, Hookline…, then again), so a slow minute of
// the shared machine lands in one round of each figure, not in all rounds of
// one; each figure is the median of its rounds.

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 3;
const CAP = 10; // HOOKLINE_PER_WEBHOOK_CONCURRENCY default: the concurrency the client limit is measured at
const DRAIN = quick ? 4000 : 20_000; // the one-webhook drain, and each baseline drain: the same backlog
const BASELINE_CONCURRENCY = [10, 50, 100];
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
};
const rows: Row[] = [];
function record(name: string, unit: string, value: number, target?: string, ok?: (m: number) => boolean): void {
  let row = rows.find((r) => r.name === name);
  if (!row) rows.push((row = { name, unit, values: [], target, ok }));
  row.values.push(value);
  process.stderr.write(`  ${name}: ${value.toFixed(unit === 'ratio' ? 3 : 1)} ${unit}\n`);
}

interface Bench {
  receiver: ReceiverProc;
  /** Sends every HTTP request to the servers under test. */
  gen: GeneratorProc;
  /** Holds the live-feed subscribers. */
  feed: GeneratorProc;
  trivial: { url: string };
}

type Defer = (cleanup: () => unknown) => void;

/** Runs a scenario; what it started is stopped, last first, also when it fails. */
async function scoped(fn: (defer: Defer) => Promise<void>): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  try {
    await fn((c) => void cleanups.push(c));
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        process.stderr.write(`  (cleanup failed: ${e instanceof Error ? e.message : String(e)})\n`);
      }
    }
  }
}

// Scenario databases not yet dropped: an interrupted scenario never reaches its own cleanups.
const databases = new Set<BenchDb>();

async function database(defer: Defer, label: string): Promise<BenchDb> {
  const db = await freshDb(label);
  databases.add(db);
  defer(() => databases.delete(db) && db.close());
  return db;
}

async function server(defer: Defer, opts: ServerOptions): Promise<ServerProc> {
  const s = await startServer(opts);
  defer(() => s.kill());
  return s;
}

/** The generators' pools and subscribers are dropped at the end of a scenario: its server is gone. */
function released(defer: Defer, { gen, feed }: Bench): void {
  defer(() => gen.release());
  defer(() => feed.release());
}

const typename = (url: string, token?: string): GqlRequest => ({ url, token, query: '{ __typename }' });

/** publishEvent with a payload of its own per request (`${prefix}<seq>`). */
const publish = (url: string, token: string, prefix: string): GqlRequest => ({
  url,
  token,
  query: PUBLISH,
  variables: { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`${prefix}${SEQ}`) } },
});

/** One request, sent by the generator; its failure fails the scenario. */
async function call(gen: GeneratorProc, request: GqlRequest): Promise<LoadResult> {
  const r = await gen.closed({ request, concurrency: 1, requests: 1 });
  if (r.errors) throw new Error(`${request.query}: ${r.firstError}`);
  return r;
}

/** Gives the webhooks a whsec_ secret, sealed as the server seals it, so their deliveries are signed. */
async function signWith(db: BenchDb, webhookIds: string[], secret: string): Promise<void> {
  const ring = parseKeyring(TEST_SECRET_KEYS);
  await db.pool.query(
    `UPDATE webhooks w SET hmac_secret = s.sealed FROM unnest($1::uuid[], $2::text[]) AS s(id, sealed) WHERE w.id = s.id`,
    [webhookIds, webhookIds.map((id) => seal(ring, secret, placeOf('webhooks', 'hmac_secret', id)))],
  );
}

/** Waits for `total` receipts and `total` recorded attempts (`recorded` counts them as n); first to last receipt. */
async function drainRate(receiver: ReceiverProc, db: BenchDb, total: number, recorded: string): Promise<number> {
  await until(async () => (await receiver.stats()).total >= total, 600_000, 'all deliveries', 100);
  await until(async () => (await db.pool.query(recorded)).rows[0].n >= total, 60_000, 'all attempts recorded', 100);
  const s = await receiver.stats();
  if (s.duplicates > 0) process.stderr.write(`  (${s.duplicates} duplicate receipts)\n`);
  return (total - 1) / (Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9);
}

/** What the clients reach on their own: the generator against a trivial server, got and undici against the receiver. */
async function clientLimits({ receiver, gen, trivial }: Bench): Promise<number> {
  const ms = quick ? 2000 : 4000;
  await gen.closed({ request: typename(trivial.url), concurrency: 32, durationMs: 500 }); // warm-up (JIT, connections)
  const ceiling = await gen.closed({ request: typename(trivial.url), concurrency: 32, durationMs: ms });
  record('load generator ceiling: trivial HTTP server, concurrency 32', 'req/s', ceiling.rate);
  const load = { url: `${receiver.url}/ok`, body: ENVELOPE, concurrency: CAP, durationMs: ms };
  const got = await gen.client({ client: 'got', ...load });
  record('client limit: got, concurrency 10', 'req/s', got.rate);
  const undici = await gen.client({ client: 'undici', ...load });
  record('client limit: undici request(), concurrency 10', 'req/s', undici.rate);
  return got.rate;
}

/** graphile-worker + got draining the same backlog as the one-webhook drain, per concurrency; returns the best rate. */
async function graphileBaseline({ receiver }: Bench): Promise<number> {
  const rates: number[] = [];
  for (const concurrency of BASELINE_CONCURRENCY) {
    await scoped(async (defer) => {
      const db = await database(defer, 'graphile');
      const baseline = await startBaseline();
      defer(() => baseline.stop());
      const url = `${receiver.url}/ok/g`;
      await baseline.prepare({ databaseUrl: db.url, jobs: DRAIN, url, secret: newWebhookSecret() });
      await receiver.reset();
      await baseline.start(concurrency);
      const rate = await drainRate(receiver, db, DRAIN, 'SELECT count(*)::int AS n FROM baseline_attempts');
      record(`baseline: graphile-worker ${baseline.version} + got, concurrency ${concurrency}`, 'deliveries/s', rate);
      rates.push(rate);
    });
  }
  const best = Math.max(...rates);
  record('baseline: graphile-worker + got, best', 'deliveries/s', best);
  return best;
}

/**
 * A backlog of `perWebhook` events for each webhook, through publishEvent's own
 * statement, in batches; with `objects`, the events are about that many objects
 * in turn (payload ids o0, o1, …), for the ordering scenarios.
 */
async function backlog(db: BenchDb, perWebhook: number, prefix: string, objects?: number): Promise<void> {
  for (let i = 0; i < perWebhook; i += 1000) {
    await insertEvents(
      db.pool,
      Array.from({ length: Math.min(1000, perWebhook - i) }, (_, j) => ({
        id: uuidv7(),
        resource: 'USERS',
        action: 'CREATE',
        type: 'user.created',
        payload: JSON.stringify(userPayload(objects ? `o${(i + j) % objects}` : `${prefix}${i + j}`)),
        occurredAt: null,
        idempotencyKey: null,
      })),
    );
  }
}

/**
 * Publishes a backlog with no worker running, then starts the server with its
 * worker and times the drain (first to last receipt). `db` is a fresh database
 * unless given (the history scenario's); `env` adds to the server's.
 */
async function drainOnce(
  { receiver }: Bench,
  webhooks: number,
  perWebhook: number,
  opts: {
    db?: BenchDb;
    env?: Record<string, string>;
    path?: string;
    ordering?: 'NONE' | 'PER_OBJECT';
    objects?: number;
  } = {},
): Promise<{ rate: number; peakRssMb: number }> {
  let result = { rate: 0, peakRssMb: 0 };
  await scoped(async (defer) => {
    const total = webhooks * perWebhook;
    const db = opts.db ?? (await database(defer, 'throughput'));
    const path = opts.path ?? 'ok';
    const ids = await createWebhooks(
      db,
      Array.from({ length: webhooks }, (_, i) => `${receiver.url}/${path}/${i}`),
      { ordering: opts.ordering },
    );
    // Signed, as the baseline signs: the same per-delivery work on both sides.
    await signWith(db, ids, newWebhookSecret());
    await backlog(db, perWebhook, 't', opts.objects);
    await receiver.reset();
    const srv = await server(defer, { env: { DATABASE_URL: db.url, ...opts.env } });
    const rate = await drainRate(
      receiver,
      db,
      total,
      `SELECT count(*)::int AS n FROM deliveries WHERE status = 'SUCCEEDED' AND webhook_id = ANY('{${ids.join(',')}}')`,
    );
    result = { rate, peakRssMb: srv.peakRssMb() };
    // Later scenarios on the same database must not find these webhooks subscribed.
    if (opts.db) await db.pool.query('DELETE FROM webhook_subscriptions WHERE webhook_id = ANY($1)', [ids]);
  });
  return result;
}

async function deliveryThroughput(
  bench: Bench,
  webhooks: number,
  perWebhook: number,
  limits: { got: number; baseline: number },
): Promise<number> {
  const { rate, peakRssMb } = await drainOnce(bench, webhooks, perWebhook);
  const label =
    webhooks === 1
      ? `delivery throughput: 1 webhook × ${webhooks * perWebhook}`
      : `delivery throughput: ${webhooks} webhooks × ${perWebhook}`;
  record(label, 'deliveries/s', rate);
  if (webhooks === 1) {
    record('delivery throughput ÷ got client limit', 'ratio', rate / limits.got, '≥ 0.85', (m) => m >= 0.85);
    record(
      'delivery throughput ÷ graphile-worker baseline (best)',
      'ratio',
      rate / limits.baseline,
      '≥ 1.25',
      (m) => m >= 1.25,
    );
    record('peak RSS of the server during delivery throughput', 'MB', peakRssMb, '≤ 200 MB', (m) => m <= 200);
  }
  return rate;
}

/** The same one-webhook drain with HOOKLINE_METRICS=false, next to the one with metrics (the default) in the same round. */
async function metricsCost(bench: Bench, withMetrics: number): Promise<void> {
  const { rate } = await drainOnce(bench, 1, DRAIN, { env: { HOOKLINE_METRICS: 'false' } });
  record(`delivery throughput: 1 webhook × ${DRAIN}, metrics off`, 'deliveries/s', rate);
  record('delivery throughput: metrics on ÷ off', 'ratio', withMetrics / rate, '≥ 0.97', (m) => m >= 0.97);
}

interface PublishFigures {
  rate: number;
  p50: number;
  p99: number;
  trivial: number;
}

/**
 * publishEvent at concurrency 32 to one subscribed webhook, paused while
 * measuring (its deliveries are parked: the publishing writes alone, as the
 * sustained-load scenario measures publishing and delivering together),
 * against the default server or an API-only server (HOOKLINE_WORKER=false)
 * with a separate `hookline worker` process; then the `{ __typename }` rate of
 * the same server, its ceiling; then the webhook is resumed and drained.
 */
async function publishOnce(bench: Bench, apiOnly: boolean, given?: BenchDb): Promise<PublishFigures> {
  const { receiver, gen } = bench;
  let figures: PublishFigures = { rate: 0, p50: 0, p99: 0, trivial: 0 };
  await scoped(async (defer) => {
    const db = given ?? (await database(defer, 'publish'));
    const key = await createKey(db, 'PUBLISHER');
    const support = await createKey(db, 'SUPPORT');
    const ids = await createWebhooks(db, [`${receiver.url}/ok/p`]);
    await receiver.reset();
    const srv = await server(defer, {
      env: { DATABASE_URL: db.url, HOOKLINE_WORKER: apiOnly ? 'false' : 'true' },
    });
    const toggle = (m: 'pauseWebhook' | 'resumeWebhook') =>
      call(gen, {
        url: srv.url,
        token: support,
        query: `mutation($id: ID!) { ${m}(id: $id) { id } }`,
        variables: { id: ids[0] },
      });
    if (apiOnly) await server(defer, { env: { DATABASE_URL: db.url }, kind: 'worker' });
    released(defer, bench);
    await gen.closed({ request: typename(srv.url, key), concurrency: 8, durationMs: 1000 }); // warm-up
    await toggle('pauseWebhook');
    const pub = await gen.closed({
      request: publish(srv.url, key, 'p'),
      concurrency: 32,
      durationMs: quick ? 3000 : 20_000,
    });
    const trivial = await gen.closed({
      request: typename(srv.url, key),
      concurrency: 32,
      durationMs: quick ? 3000 : 5000,
    });
    await toggle('resumeWebhook');
    await until(
      async () => (await receiver.stats('/ok/p')).unique >= pub.count,
      300_000,
      'publish backlog delivered',
      200,
    );
    figures = { rate: pub.rate, p50: pub.p50, p99: pub.p99, trivial: trivial.rate };
    if (given) await db.pool.query('DELETE FROM webhook_subscriptions WHERE webhook_id = ANY($1)', [ids]);
  });
  return figures;
}

async function publishRate(bench: Bench, apiOnly: boolean): Promise<PublishFigures> {
  const f = await publishOnce(bench, apiOnly);
  const label = apiOnly ? 'publish (API-only server + worker process)' : 'publish (default server, worker in-process)';
  record(`${label}: events/s at concurrency 32`, 'events/s', f.rate);
  record(`${label}: p50 latency`, 'ms', f.p50);
  record(`${label}: p99 latency`, 'ms', f.p99);
  record(`${label}: GraphQL ceiling, { __typename } at concurrency 32`, 'req/s', f.trivial);
  record(`${label}: publish ÷ trivial query rate`, 'ratio', f.rate / f.trivial, '≥ 0.85', (m) => m >= 0.85);
  return f;
}

/**
 * PER_OBJECT ordering: the same one-webhook drain with the events about 1,000
 * objects in turn (so up to 1,000 may be in flight, one per object), next to
 * this round's NONE drain; and with every event about one object, where each
 * delivery waits for the one before it: one round trip per delivery.
 */
async function orderedDrains(bench: Bench, none: number): Promise<void> {
  const many = await drainOnce(bench, 1, DRAIN, { ordering: 'PER_OBJECT', objects: 1000 });
  record(`PER_OBJECT, 1 webhook × ${DRAIN} about 1,000 objects`, 'deliveries/s', many.rate);
  record('PER_OBJECT (1,000 objects) ÷ NONE', 'ratio', many.rate / none, '≥ 0.8', (m) => m >= 0.8);
  const one = await drainOnce(bench, 1, SINGLE_OBJECT, { ordering: 'PER_OBJECT', objects: 1 });
  record(`PER_OBJECT, ${SINGLE_OBJECT} events about one object`, 'deliveries/s', one.rate);
  record('PER_OBJECT, one object: time per delivery (one round trip, then the next)', 'ms', 1000 / one.rate);
}

const SINGLE_OBJECT = quick ? 500 : 2000;

/**
 * One event to 1,000 webhooks, published 20 times one after another against
 * an API-only server (no worker competing), with every subscription filtered
 * (a filter that matches: every delivery is still made) and without filters.
 */
async function filteredFanOut(bench: Bench): Promise<void> {
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

const HISTORY = quick ? 200_000 : 1_000_000;

/**
 * A database holding HISTORY finished deliveries (each with its event and one
 * attempt, spread over the last week: inside retention, so nothing is pruned
 * while measuring), written with generate_series in batches and then vacuumed
 * and analyzed, as autovacuum leaves a table in steady state. Made once per run;
 * every round's history figures use it (each round adds its own traffic, a few
 * percent of it).
 */
async function historyDatabase(): Promise<BenchDb> {
  const db = await freshDb('history');
  databases.add(db);
  const [webhookId] = await createWebhooks(db, [`http://127.0.0.1:9/history`]);
  await db.pool.query('DELETE FROM webhook_subscriptions');
  const started = Date.now();
  const batch = 100_000;
  for (let from = 0; from < HISTORY; from += batch) {
    await db.pool.query(
      `WITH ev AS (
         INSERT INTO events (resource, action, type, payload, occurred_at, created_at)
         SELECT 'USERS', 'CREATE', 'user.created', $4::jsonb || jsonb_build_object('id', g::text), t, t
         FROM generate_series($1::int, $2::int) g, LATERAL (SELECT now() - interval '7 days' * (1 - g::float8 / $3) AS t) at
         RETURNING id, created_at
       ), dl AS (
         INSERT INTO deliveries (event_id, webhook_id, status, attempt_count, last_attempt_at, created_at)
         SELECT id, $5, 'SUCCEEDED', 1, created_at, created_at FROM ev RETURNING id, event_id, created_at
       )
       INSERT INTO delivery_attempts (delivery_id, webhook_id, event_id, attempt_number, outcome, response_status, response_body, duration_ms, started_at)
       SELECT id, $5, event_id, 1, 'SUCCESS', 200, 'ok', 4, created_at FROM dl`,
      [from + 1, Math.min(from + batch, HISTORY), HISTORY, JSON.stringify(userPayload('0')), webhookId],
    );
  }
  await db.pool.query('VACUUM ANALYZE events, deliveries, delivery_attempts');
  const { rows } = await db.pool.query<{ mb: number }>(
    `SELECT round(pg_database_size(current_database()) / 1048576.0)::int AS mb`,
  );
  process.stderr.write(
    `  history: ${HISTORY} finished deliveries in ${((Date.now() - started) / 1000).toFixed(0)} s, ${rows[0]!.mb} MB\n`,
  );
  return db;
}

/** The one-webhook drain and the default server's publish rate against the history, next to this round's empty-table figures. */
async function historyCost(
  bench: Bench,
  history: BenchDb,
  empty: { delivery: number; publish: number },
): Promise<void> {
  const n = `${HISTORY / 1_000_000}M`;
  const { rate } = await drainOnce(bench, 1, DRAIN, { db: history });
  record(`delivery throughput: 1 webhook × ${DRAIN}, over ${n} finished deliveries`, 'deliveries/s', rate);
  record(`delivery throughput: ${n} history ÷ empty tables`, 'ratio', rate / empty.delivery, '≥ 0.9', (m) => m >= 0.9);
  const pub = await publishOnce(bench, false, history);
  record(`publish (default server), over ${n} finished deliveries: events/s`, 'events/s', pub.rate);
  record(`publish (default server), over ${n} finished deliveries: p99 latency`, 'ms', pub.p99);
  record(`publish: ${n} history ÷ empty tables`, 'ratio', pub.rate / empty.publish, '≥ 0.9', (m) => m >= 0.9);
}

/**
 * Three drains of DRAIN deliveries, one after another, on one database and one
 * server: the backlog is published while the webhook is paused, and each drain
 * is timed from resumeWebhook to the last receipt. What each run leaves behind
 * must not slow the next.
 */
async function consecutiveDrains(bench: Bench): Promise<void> {
  const { receiver, gen } = bench;
  await scoped(async (defer) => {
    const db = await database(defer, 'consecutive');
    const supportKey = await createKey(db, 'SUPPORT');
    const [webhookId] = await createWebhooks(db, [`${receiver.url}/ok/c`]);
    await signWith(db, [webhookId!], newWebhookSecret());
    const srv = await server(defer, { env: { DATABASE_URL: db.url } });
    released(defer, bench);
    const support = (mutation: string) => ({
      url: srv.url,
      token: supportKey,
      query: mutation,
      variables: { id: webhookId },
    });
    const drain = async (n: number, prefix: string): Promise<number> => {
      await call(gen, support('mutation($id: ID!) { pauseWebhook(id: $id) { id } }'));
      await backlog(db, n, prefix);
      await receiver.reset();
      const resumed = await call(gen, support('mutation($id: ID!) { resumeWebhook(id: $id) { id } }'));
      await until(async () => (await receiver.stats('/ok/c')).unique >= n, 600_000, 'consecutive drain', 50);
      return n / (Number(BigInt((await receiver.stats()).lastNs) - resumed.startNs) / 1e9);
    };
    // A fresh process is slower until its JIT has warmed up: that is not what this measures.
    await drain(2000, 'cw-');
    const rates: number[] = [];
    for (let run = 0; run < 3; run++) {
      rates.push(await drain(DRAIN, `c${run}-`));
      record(`consecutive drains of ${DRAIN}: run ${run + 1}`, 'deliveries/s', rates[run]!);
    }
    const spread = (Math.max(...rates) - Math.min(...rates)) / Math.max(...rates);
    record(
      `consecutive drains of ${DRAIN}: (fastest − slowest) ÷ fastest`,
      'ratio',
      spread,
      '≤ 0.05',
      (m) => m <= 0.05,
    );
    record(`consecutive drains of ${DRAIN}: run 3 ÷ run 1`, 'ratio', rates[2]! / rates[0]!);
  });
}

/** A server and its keys, with one webhook on /ok/<path>, for the open-loop scenarios. */
async function openLoopServer(
  bench: Bench,
  defer: Defer,
  label: string,
  path: string,
  env: Record<string, string> = {},
): Promise<{ srv: ServerProc; key: string; support: string; db: BenchDb; webhookId: string }> {
  const db = await database(defer, label);
  const key = await createKey(db, 'PUBLISHER');
  const support = await createKey(db, 'SUPPORT');
  const [webhookId] = await createWebhooks(db, [`${bench.receiver.url}/ok/${path}`]);
  await signWith(db, [webhookId!], newWebhookSecret());
  const srv = await server(defer, { env: { DATABASE_URL: db.url, ...env } });
  released(defer, bench);
  return { srv, key, support, db, webhookId: webhookId! };
}

/** Open loop: from the time each publish was due to its arrival at the receiver (ms), for those that arrived. */
async function arrivalLatency(receiver: ReceiverProc, prefix: string, r: LoadResult, rate: number): Promise<number[]> {
  const arrivals = await receiver.arrivals();
  const lat: number[] = [];
  for (let seq = 0; seq < r.count + r.errors; seq++) {
    const at = arrivals.get(`${prefix}${seq}`);
    if (at !== undefined) lat.push(Number(at - (r.startNs + BigInt(Math.round((seq * 1e9) / rate)))) / 1e6);
  }
  return lat;
}

/** publishEvent at an open-loop 1,000/s (the webhook paused: the writes only); latency from when each was due. */
async function publishOpenLoop(bench: Bench): Promise<void> {
  const { gen } = bench;
  await scoped(async (defer) => {
    const { srv, key, support, webhookId } = await openLoopServer(bench, defer, 'publish_open', 'po');
    await call(gen, {
      url: srv.url,
      token: support,
      query: 'mutation($id: ID!) { pauseWebhook(id: $id) { id } }',
      variables: { id: webhookId },
    });
    await gen.closed({ request: publish(srv.url, key, 'w'), concurrency: 8, requests: 500 }); // warm-up
    const r = await gen.open({ request: publish(srv.url, key, 'o'), rate: 1000, seconds: quick ? 5 : 20 });
    record('publish, open loop at 1,000/s: achieved', 'events/s', r.rate);
    record('publish, open loop at 1,000/s: p50', 'ms', r.p50);
    record('publish, open loop at 1,000/s: p99', 'ms', r.p99, '≤ 30 ms', (m) => m <= 30);
  });
}

/** publishEvents with 100 events per request, 4 requests at a time (the webhook paused: stored and fanned out). */
async function publishBatches(bench: Bench): Promise<void> {
  const { gen } = bench;
  await scoped(async (defer) => {
    const { srv, key, support, db, webhookId } = await openLoopServer(bench, defer, 'publish_batch', 'pb');
    await call(gen, {
      url: srv.url,
      token: support,
      query: 'mutation($id: ID!) { pauseWebhook(id: $id) { id } }',
      variables: { id: webhookId },
    });
    const batch = (prefix: string): GqlRequest => ({
      url: srv.url,
      token: key,
      query: 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
      variables: {
        inputs: Array.from({ length: 100 }, (_, i) => ({
          resource: 'USERS',
          action: 'CREATE',
          payload: userPayload(`${prefix}${SEQ}-${i}`),
        })),
      },
    });
    await gen.closed({ request: batch('w'), concurrency: 4, requests: 20 }); // warm-up
    const r = await gen.closed({ request: batch('b'), concurrency: 4, durationMs: quick ? 3000 : 15_000 });
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM deliveries`);
    if (rows[0]!.n !== (r.count + 20) * 100)
      throw new Error(`publishEvents: ${rows[0]!.n} deliveries for ${(r.count + 20) * 100} events`);
    record(
      'publishEvents, 100 per request, 4 at a time: events stored and fanned out',
      'events/s',
      r.rate * 100,
      '≥ 10000',
      (m) => m >= 10_000,
    );
    record('publishEvents, 100 per request: p99 per request', 'ms', r.p99);
  });
}

/**
 * Sustained mixed load on one default server (its worker in-process): an open
 * loop of 1,000 publishes a second to one active webhook, every one delivered,
 * timed from when it was due to its arrival.
 */
async function sustainedLoad(bench: Bench): Promise<void> {
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
async function endToEnd(bench: Bench): Promise<void> {
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

async function fanOut(bench: Bench): Promise<void> {
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

/** 100 subscribers (in the feed process) to every attempt while events are published one after another. */
async function liveFeed(bench: Bench): Promise<void> {
  const { receiver, gen, feed } = bench;
  await scoped(async (defer) => {
    const db = await database(defer, 'feed');
    const publisherKey = await createKey(db, 'PUBLISHER');
    const viewerKey = await createKey(db, 'VIEWER');
    await createWebhooks(db, [`${receiver.url}/ok/feed`]);
    const srv = await server(defer, { env: { DATABASE_URL: db.url } });
    released(defer, bench);
    const subscribers = 100;
    await feed.subscribe({
      url: srv.url,
      token: viewerKey,
      query: 'subscription { deliveryAttempts { startedAt durationMs } }',
      clients: subscribers,
    });
    await sleep(300);
    // One publish at a time, 10 ms after the previous answer: the pacing this figure has always had.
    const pub = await gen.closed({
      request: publish(srv.url, publisherKey, 'lf'),
      concurrency: 1,
      requests: quick ? 200 : 1000,
      pauseMs: 10,
    });
    await until(async () => (await feed.feed()).received >= pub.count * subscribers, 60_000, 'feed messages', 50);
    const l = await feed.feed();
    record('live feed, 100 subscribers, paced publishes: attempt-to-client p50', 'ms', l.p50);
    record('live feed, 100 subscribers, paced publishes: attempt-to-client p99', 'ms', l.p99);
  });
}

/** 100 subscribers to every attempt while the server delivers 1,000 attempts a second (an open loop of publishes). */
async function liveFeedUnderLoad(bench: Bench): Promise<void> {
  const { receiver, gen, feed } = bench;
  await scoped(async (defer) => {
    const { srv, key, db } = await openLoopServer(bench, defer, 'feed_load', 'fl');
    const viewerKey = await createKey(db, 'VIEWER');
    await feed.subscribe({
      url: srv.url,
      token: viewerKey,
      query: 'subscription { deliveryAttempts { startedAt durationMs } }',
      clients: 100,
    });
    await sleep(300);
    const r = await gen.open({ request: publish(srv.url, key, 'fl'), rate: 1000, seconds: quick ? 3 : 10 });
    await until(async () => (await receiver.stats('/ok/fl')).unique >= r.count, 120_000, 'feed-load receipts', 100);
    await until(async () => (await feed.feed()).received >= r.count * 100, 60_000, 'feed messages', 100).catch(
      () => undefined,
    );
    const l = await feed.feed();
    record(
      'live feed, 100 subscribers at 1,000 attempts/s: messages received ÷ sent',
      'ratio',
      l.received / (r.count * 100),
      '= 1',
      (m) => m >= 0.999,
    );
    record('live feed, 100 subscribers at 1,000 attempts/s: attempt-to-client p50', 'ms', l.p50);
    record(
      'live feed, 100 subscribers at 1,000 attempts/s: attempt-to-client p99',
      'ms',
      l.p99,
      '≤ 50 ms',
      (m) => m <= 50,
    );
    await receiver.reset();
  });
}

/**
 * What a dashboard that stops reading costs the delivery rate: the same drain
 * (webhook paused while its backlog is published, then resumed) with 5 reading
 * subscribers, and with 5 readers plus a raw subscriber that pauses its socket.
 * Moved here from the test suite: a throughput ratio is a measurement, not a pass/fail test.
 */
async function stalledSubscriber(bench: Bench): Promise<void> {
  const { receiver, gen, feed } = bench;
  await scoped(async (defer) => {
    const db = await database(defer, 'stall');
    const publisherKey = await createKey(db, 'PUBLISHER');
    const supportKey = await createKey(db, 'SUPPORT');
    const viewerKey = await createKey(db, 'VIEWER');
    const [webhookId] = await createWebhooks(db, [`${receiver.url}/ok/stall`]);
    const srv = await server(defer, { env: { DATABASE_URL: db.url } });
    released(defer, bench);
    await feed.subscribe({
      url: srv.url,
      token: viewerKey,
      query: 'subscription($w: ID) { deliveryAttempts(webhookId: $w) { id } }',
      variables: { w: webhookId },
      clients: 5,
    });
    const n = quick ? 1000 : 3000;
    const support = (mutation: string) => ({
      url: srv.url,
      token: supportKey,
      query: mutation,
      variables: { id: webhookId },
    });
    const drain = async (): Promise<number> => {
      await call(gen, support('mutation($id: ID!) { pauseWebhook(id: $id) { id } }'));
      await receiver.reset();
      await gen.closed({ request: publish(srv.url, publisherKey, 's'), concurrency: 50, requests: n });
      const resumed = await call(gen, support('mutation($id: ID!) { resumeWebhook(id: $id) { id } }'));
      await until(async () => (await receiver.stats('/ok/stall')).unique >= n, 120_000, 'stall drain', 50);
      // From the resume request to the last receipt, both on the monotonic clock the processes share.
      return n / (Number(BigInt((await receiver.stats()).lastNs) - resumed.startNs) / 1e9);
    };
    await drain(); // warm-up
    const readers = await drain();
    await feed.stall({
      url: srv.url,
      token: viewerKey,
      query: 'subscription { deliveryAttempts { id errorMessage } }',
    });
    const stalled = await drain();
    await feed.unstall();
    record('stalled subscriber: delivery rate with 5 reading subscribers', 'deliveries/s', readers);
    record('stalled subscriber: delivery rate with 5 readers + 1 stalled', 'deliveries/s', stalled);
    record('stalled subscriber: stalled ÷ readers only', 'ratio', stalled / readers, '≥ 0.9', (m) => m >= 0.9);
  });
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
    `- rounds: ${RUNS}${quick ? ' (--quick)' : ''}, every scenario once per round; each figure the median of its rounds`,
    '- load: a generator process of its own (undici), feed subscribers in another, both apart from the bench process',
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

let down: Promise<void> | null = null;
/** Once, whichever of success, failure or a signal gets here first. */
function teardown(): Promise<void> {
  down ??= (async () => {
    await killAll();
    const left = [...databases];
    databases.clear();
    await Promise.all(left.map((db) => db.close().catch(() => undefined)));
    await stopDatabase().catch(() => undefined);
  })();
  return down;
}

async function main(): Promise<void> {
  const started = Date.now();
  const env = await environment();
  const bench: Bench = {
    receiver: await startReceiver(),
    gen: await startGenerator('generator'),
    feed: await startGenerator('feed-clients'),
    trivial: await startTrivialServer(),
  };
  const history = await historyDatabase();
  for (let round = 0; round < RUNS; round++) {
    process.stderr.write(`round ${round + 1}/${RUNS}\n`);
    const got = await clientLimits(bench);
    const baseline = await graphileBaseline(bench);
    const delivery = await deliveryThroughput(bench, 1, DRAIN, { got, baseline });
    await metricsCost(bench, delivery);
    await orderedDrains(bench, delivery);
    await deliveryThroughput(bench, 10, DRAIN / 10, { got, baseline });
    const published = await publishRate(bench, false);
    await publishRate(bench, true);
    await historyCost(bench, history, { delivery, publish: published.rate });
    await consecutiveDrains(bench);
    await publishOpenLoop(bench);
    await publishBatches(bench);
    await endToEnd(bench);
    await sustainedLoad(bench);
    await fanOut(bench);
    await filteredFanOut(bench);
    await liveFeed(bench);
    await liveFeedUnderLoad(bench);
    await stalledSubscriber(bench);
  }
  await teardown();

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

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench interrupted (${signal}): stopping its processes\n`);
    void teardown().finally(() => process.exit(130));
  });
}

main().then(
  () => process.exit(0),
  async (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await teardown();
    process.exit(1);
  },
);
