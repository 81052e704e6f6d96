import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import { v7 as uuidv7 } from 'uuid';
import { newWebhookSecret } from '../../src/domain/tokens.js';
import { insertEvents } from '../../src/storage/sql/events.js';
import { createKey, createWebhooks, type BenchDb } from '../lib/db.js';
import {
  call,
  database,
  quick,
  record,
  released,
  runDatabase,
  scoped,
  server,
  signWith,
  typename,
  type Bench,
  type Round,
} from '../lib/harness.js';
import { userPayload } from '../lib/load.js';
import { startBaseline, type ReceiverProc } from '../lib/procs.js';
import { until } from '../lib/stats.js';
import { publishOnce } from './publishing.js';

// Delivery drains: what the clients reach on their own, the graphile-worker
// baseline, and the server draining a backlog (one webhook, ten, with metrics
// off, in PER_OBJECT order, over a history of finished deliveries, three in a
// row on one server).

const DRAIN = quick ? 4000 : 20_000; // the one-webhook drain, and each baseline drain: the same backlog
const CAP = 10; // HOOKLINE_PER_WEBHOOK_CONCURRENCY default: the concurrency the client limit is measured at
const BASELINE_CONCURRENCY = [10, 50, 100];
const SINGLE_OBJECT = quick ? 500 : 2000;
const ENVELOPE = JSON.stringify({
  id: '3f0c5a8e-0000-4000-8000-000000000000',
  type: 'user.created',
  timestamp: new Date().toISOString(),
  data: userPayload('42'),
});

/** Waits for `total` receipts and `total` recorded attempts (`recorded` counts them as n); first to last receipt. */
async function drainRate(receiver: ReceiverProc, db: BenchDb, total: number, recorded: string): Promise<number> {
  await until(async () => (await receiver.stats()).total >= total, 600_000, 'all deliveries', 100);
  await until(async () => (await db.pool.query(recorded)).rows[0].n >= total, 60_000, 'all attempts recorded', 100);
  const s = await receiver.stats();
  if (s.duplicates > 0) process.stderr.write(`  (${s.duplicates} duplicate receipts)\n`);
  return (total - 1) / (Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9);
}

/** What the clients reach on their own: the generator against a trivial server, got and undici against the receiver. */
export async function clientLimits({ receiver, gen, trivial }: Bench, round: Round): Promise<void> {
  const ms = quick ? 2000 : 4000;
  await gen.closed({ request: typename(trivial.url), concurrency: 32, durationMs: 500 }); // warm-up (JIT, connections)
  const ceiling = await gen.closed({ request: typename(trivial.url), concurrency: 32, durationMs: ms });
  record('load generator ceiling: trivial HTTP server, concurrency 32', 'req/s', ceiling.rate);
  const load = { url: `${receiver.url}/ok`, body: ENVELOPE, concurrency: CAP, durationMs: ms };
  const got = await gen.client({ client: 'got', ...load });
  record('client limit: got, concurrency 10', 'req/s', got.rate);
  const undici = await gen.client({ client: 'undici', ...load });
  record('client limit: undici request(), concurrency 10', 'req/s', undici.rate);
  round.got = got.rate;
}

const PEERS = [
  { tuned: false, label: 'library defaults' },
  { tuned: true, label: "perfTest's settings" },
];

/**
 * graphile-worker + got draining the same backlog as the one-webhook drain,
 * with the library's defaults and tuned as graphile-worker's own perfTest is,
 * the two interleaved per concurrency so a slow minute hits both; keeps each
 * one's best rate. The tuned one is the peer the headline ratio is against.
 */
export async function graphileBaseline({ receiver }: Bench, round: Round): Promise<void> {
  const rates = new Map<boolean, number[]>(PEERS.map((p) => [p.tuned, []]));
  let version = '';
  for (const concurrency of BASELINE_CONCURRENCY) {
    for (const peer of PEERS) {
      await scoped(async (defer) => {
        const db = await database(defer, 'graphile');
        const baseline = await startBaseline();
        defer(() => baseline.stop());
        version = baseline.version;
        const url = `${receiver.url}/ok/g`;
        await baseline.prepare({ databaseUrl: db.url, jobs: DRAIN, url, secret: newWebhookSecret() });
        await receiver.reset();
        await baseline.start(concurrency, peer.tuned);
        const rate = await drainRate(receiver, db, DRAIN, 'SELECT count(*)::int AS n FROM baseline_attempts');
        record(
          `baseline: graphile-worker ${version} + got, ${peer.label}, concurrency ${concurrency}`,
          'deliveries/s',
          rate,
        );
        rates.get(peer.tuned)!.push(rate);
      });
    }
  }
  for (const peer of PEERS) {
    const best = Math.max(...rates.get(peer.tuned)!);
    record(`baseline: graphile-worker ${version} + got, ${peer.label}, best`, 'deliveries/s', best);
    if (round.got !== undefined)
      record(`baseline: graphile-worker + got, ${peer.label}, best ÷ got client limit`, 'ratio', best / round.got);
    if (peer.tuned) round.baseline = best;
    else round.baselineDefaults = best;
  }
}

/**
 * A backlog of `perWebhook` events for each webhook, through publishEvent's own
 * statement, in batches; with `objects`, the events are about that many objects
 * in turn (payload ids o0, o1, …), for the ordering scenarios.
 */
export async function backlog(db: BenchDb, perWebhook: number, prefix: string, objects?: number): Promise<void> {
  for (let i = 0; i < perWebhook; i += 1000) {
    await insertEvents(
      db.pool,
      Array.from({ length: Math.min(1000, perWebhook - i) }, (_, j) => ({
        id: uuidv7(),
        accountId: DEFAULT_ACCOUNT_ID,
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
 * unless given (the history scenario's); `env` adds to the server's; `configure`
 * changes the webhooks before the server starts (the headers scenario's).
 */
export async function drainOnce(
  { receiver }: Bench,
  webhooks: number,
  perWebhook: number,
  opts: {
    db?: BenchDb;
    env?: Record<string, string>;
    path?: string;
    ordering?: 'NONE' | 'PER_OBJECT';
    objects?: number;
    configure?: (db: BenchDb, webhookIds: string[]) => Promise<void>;
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
    await opts.configure?.(db, ids);
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

/** The one-webhook drain, against got's limit and the baseline when they ran in this round. */
export async function oneWebhookDrain(bench: Bench, round: Round): Promise<void> {
  const { rate, peakRssMb } = await drainOnce(bench, 1, DRAIN);
  record(`delivery throughput: 1 webhook × ${DRAIN}`, 'deliveries/s', rate);
  if (round.got !== undefined)
    record('delivery throughput ÷ got client limit', 'ratio', rate / round.got, '≥ 0.85', (m) => m >= 0.85);
  if (round.baseline !== undefined)
    record(
      "delivery throughput ÷ graphile-worker peer, perfTest's settings (best)",
      'ratio',
      rate / round.baseline,
      '≥ 1.25',
      (m) => m >= 1.25,
    );
  if (round.baselineDefaults !== undefined)
    record('delivery throughput ÷ graphile-worker, library defaults (best)', 'ratio', rate / round.baselineDefaults);
  record('peak RSS of the server during delivery throughput', 'MB', peakRssMb, '≤ 200 MB', (m) => m <= 200);
  round.delivery = rate;
}

/** The same backlog spread over ten webhooks. */
export async function tenWebhookDrain(bench: Bench): Promise<void> {
  const { rate } = await drainOnce(bench, 10, DRAIN / 10);
  record(`delivery throughput: 10 webhooks × ${DRAIN / 10}`, 'deliveries/s', rate);
}

/** The same one-webhook drain with HOOKLINE_METRICS=false, next to the one with metrics (the default) in the same round. */
export async function metricsCost(bench: Bench, round: Round): Promise<void> {
  const { rate } = await drainOnce(bench, 1, DRAIN, { env: { HOOKLINE_METRICS: 'false' } });
  record(`delivery throughput: 1 webhook × ${DRAIN}, metrics off`, 'deliveries/s', rate);
  if (round.delivery !== undefined)
    record('delivery throughput: metrics on ÷ off', 'ratio', round.delivery / rate, '≥ 0.97', (m) => m >= 0.97);
}

/**
 * PER_OBJECT ordering: the same one-webhook drain with the events about 1,000
 * objects in turn (so up to 1,000 may be in flight, one per object), next to
 * this round's NONE drain; and with every event about one object, where each
 * delivery waits for the one before it: one round trip per delivery.
 */
export async function orderedDrains(bench: Bench, round: Round): Promise<void> {
  const many = await drainOnce(bench, 1, DRAIN, { ordering: 'PER_OBJECT', objects: 1000 });
  record(`PER_OBJECT, 1 webhook × ${DRAIN} about 1,000 objects`, 'deliveries/s', many.rate);
  if (round.delivery !== undefined)
    record('PER_OBJECT (1,000 objects) ÷ NONE', 'ratio', many.rate / round.delivery, '≥ 0.8', (m) => m >= 0.8);
  const one = await drainOnce(bench, 1, SINGLE_OBJECT, { ordering: 'PER_OBJECT', objects: 1 });
  record(`PER_OBJECT, ${SINGLE_OBJECT} events about one object`, 'deliveries/s', one.rate);
  record('PER_OBJECT, one object: time per delivery (one round trip, then the next)', 'ms', 1000 / one.rate);
}

const HISTORY = quick ? 200_000 : 1_000_000;

/**
 * A database holding HISTORY finished deliveries (each with its event and one
 * attempt, spread over the last week: inside retention, so nothing is pruned
 * while measuring), written with generate_series in batches and then vacuumed
 * and analyzed, as autovacuum leaves a table in steady state. Made once per run,
 * before the first round; every round's history figures use it (each round adds
 * its own traffic, a few percent of it).
 */
let history: BenchDb | undefined;
export async function historyDatabase(): Promise<void> {
  const db = await runDatabase('history');
  const [webhookId] = await createWebhooks(db, [`http://127.0.0.1:9/history`]);
  await db.pool.query('DELETE FROM webhook_subscriptions');
  const started = Date.now();
  const batch = 100_000;
  for (let from = 0; from < HISTORY; from += batch) {
    await db.pool.query(
      `WITH ev AS (
         INSERT INTO events (account_id, resource, action, type, payload, occurred_at, created_at)
         SELECT $6::uuid, 'USERS', 'CREATE', 'user.created', $4::jsonb || jsonb_build_object('id', g::text), t, t
         FROM generate_series($1::int, $2::int) g, LATERAL (SELECT now() - interval '7 days' * (1 - g::float8 / $3) AS t) at
         RETURNING id, created_at
       ), dl AS (
         INSERT INTO deliveries (event_id, webhook_id, status, attempt_count, last_attempt_at, created_at)
         SELECT id, $5, 'SUCCEEDED', 1, created_at, created_at FROM ev RETURNING id, event_id, created_at
       )
       INSERT INTO delivery_attempts (delivery_id, webhook_id, event_id, attempt_number, outcome, response_status, response_body, duration_ms, started_at)
       SELECT id, $5, event_id, 1, 'SUCCESS', 200, 'ok', 4, created_at FROM dl`,
      [
        from + 1,
        Math.min(from + batch, HISTORY),
        HISTORY,
        JSON.stringify(userPayload('0')),
        webhookId,
        DEFAULT_ACCOUNT_ID,
      ],
    );
  }
  await db.pool.query('VACUUM ANALYZE events, deliveries, delivery_attempts');
  const { rows } = await db.pool.query<{ mb: number }>(
    `SELECT round(pg_database_size(current_database()) / 1048576.0)::int AS mb`,
  );
  process.stderr.write(
    `  history: ${HISTORY} finished deliveries in ${((Date.now() - started) / 1000).toFixed(0)} s, ${rows[0]!.mb} MB\n`,
  );
  history = db;
}

/**
 * The one-webhook drain and the default server's publish rate against the
 * history, each divided by this round's empty-table figure when that ran.
 */
export async function historyCost(bench: Bench, round: Round): Promise<void> {
  if (!history) throw new Error('history: historyDatabase() runs before the first round');
  const n = `${HISTORY / 1_000_000}M`;
  const { rate } = await drainOnce(bench, 1, DRAIN, { db: history });
  record(`delivery throughput: 1 webhook × ${DRAIN}, over ${n} finished deliveries`, 'deliveries/s', rate);
  if (round.delivery !== undefined)
    record(
      `delivery throughput: ${n} history ÷ empty tables`,
      'ratio',
      rate / round.delivery,
      '≥ 0.9',
      (m) => m >= 0.9,
    );
  const pub = await publishOnce(bench, false, history);
  record(`publish (default server), over ${n} finished deliveries: events/s`, 'events/s', pub.rate);
  record(`publish (default server), over ${n} finished deliveries: p99 latency`, 'ms', pub.p99);
  if (round.publish !== undefined)
    record(`publish: ${n} history ÷ empty tables`, 'ratio', pub.rate / round.publish, '≥ 0.9', (m) => m >= 0.9);
}

/**
 * Three drains of DRAIN deliveries, one after another, on one database and one
 * server: the backlog is published while the webhook is paused, and each drain
 * is timed from resumeWebhook to the last receipt. What each run leaves behind
 * must not slow the next.
 */
export async function consecutiveDrains(bench: Bench): Promise<void> {
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
