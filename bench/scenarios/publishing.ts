import { createKey, createWebhooks, type BenchDb } from '../lib/db.js';
import {
  call,
  database,
  openLoopServer,
  publish,
  publishBatch,
  quick,
  record,
  released,
  scoped,
  server,
  typename,
  type Bench,
  type Round,
} from '../lib/harness.js';
import { until } from '../lib/stats.js';

// Publishing: publishEvent closed-loop against the default server and an
// API-only one with a worker process, at an open-loop 1,000/s, and
// publishEvents in batches of 100. The webhook is paused while measuring, so
// the figures are the publishing writes alone.

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
export async function publishOnce(bench: Bench, apiOnly: boolean, given?: BenchDb): Promise<PublishFigures> {
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

/** The default server's publish figures; the history scenario divides by its rate in the same round. */
export async function publishRate(bench: Bench, round: Round): Promise<void> {
  round.publish = (await publishFigures(bench, false)).rate;
}

/** The same with an API-only server (HOOKLINE_WORKER=false) and a `hookline worker` process. */
export async function publishRateApiOnly(bench: Bench): Promise<void> {
  await publishFigures(bench, true);
}

async function publishFigures(bench: Bench, apiOnly: boolean): Promise<PublishFigures> {
  const f = await publishOnce(bench, apiOnly);
  const label = apiOnly ? 'publish (API-only server + worker process)' : 'publish (default server, worker in-process)';
  record(`${label}: events/s at concurrency 32`, 'events/s', f.rate);
  record(`${label}: p50 latency`, 'ms', f.p50);
  record(`${label}: p99 latency`, 'ms', f.p99);
  record(`${label}: GraphQL ceiling, { __typename } at concurrency 32`, 'req/s', f.trivial);
  record(`${label}: publish ÷ trivial query rate`, 'ratio', f.rate / f.trivial, '≥ 0.85', (m) => m >= 0.85);
  return f;
}

/** publishEvent at an open-loop 1,000/s (the webhook paused: the writes only); latency from when each was due. */
export async function publishOpenLoop(bench: Bench): Promise<void> {
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
export async function publishBatches(bench: Bench): Promise<void> {
  const { gen } = bench;
  await scoped(async (defer) => {
    const { srv, key, support, db, webhookId } = await openLoopServer(bench, defer, 'publish_batch', 'pb');
    await call(gen, {
      url: srv.url,
      token: support,
      query: 'mutation($id: ID!) { pauseWebhook(id: $id) { id } }',
      variables: { id: webhookId },
    });
    const batch = (prefix: string) => publishBatch(srv.url, key, prefix, 100);
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
