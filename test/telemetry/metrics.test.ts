import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  ATTEMPTS_SUBSCRIPTION,
  armed,
  collect,
  createWebhook,
  deliveryFor,
  eventually,
  feedClient,
  freshDatabase,
  insertKeys,
  publish,
  quiesce,
  spawnServer,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  type FeedClient,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// The Prometheus metrics of a server and of a `hookline worker`, read the way
// Prometheus reads them (the text exposition format), checked to move as the
// service works.

/** `name{labels} value` lines into a map keyed by `name{labels}`; HELP/TYPE lines checked for every name. */
function parse(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|NaN|Nan|\+Inf|-Inf)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    samples.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return { samples, types };
}

export const NAMES: [string, string][] = [
  ['hookline_events_published_total', 'counter'],
  ['hookline_publish_duration_seconds', 'histogram'],
  ['hookline_attempts_total', 'counter'],
  ['hookline_attempt_duration_seconds', 'histogram'],
  ['hookline_deliveries_finished_total', 'counter'],
  ['hookline_queue_due', 'gauge'],
  ['hookline_queue_oldest_due_seconds', 'gauge'],
  ['hookline_worker_in_flight', 'gauge'],
  ['hookline_webhooks', 'gauge'],
  ['hookline_feed_subscribers', 'gauge'],
  ['hookline_feed_executions', 'gauge'],
  ['hookline_pruned_rows_total', 'counter'],
  ['process_cpu_seconds_total', 'counter'],
  ['process_resident_memory_bytes', 'gauge'],
  ['nodejs_eventloop_lag_seconds', 'gauge'],
];

async function scrape(url: string, token?: string) {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

describe('metrics of the server', () => {
  let s: TestServer;
  let r: Receiver;
  const clients: FeedClient[] = [];

  before(async () => {
    s = await startServer('metrics', { env: { HOOKLINE_RETRY_SCHEDULE: '1h' } });
    r = await startReceiver();
  });
  after(async () => {
    for (const c of clients) await c.dispose().catch(() => undefined);
    await s.stop();
    await r.close();
  });

  const url = () => `${new URL(s.url).origin}/metrics`;

  it('GET /metrics shows every metric, each with its type', async () => {
    const { samples, types } = await scrape(url());
    for (const [name, type] of NAMES) {
      assert.equal(types.get(name), type, `${name} is a ${type}`);
      assert.ok(
        [...samples.keys()].some((k) => k === name || k.startsWith(`${name}{`) || k.startsWith(`${name}_`)),
        name,
      );
    }
    // No label names a webhook: the label sets are small and fixed.
    for (const key of samples.keys()) assert.doesNotMatch(key, /webhook_?id|[0-9a-f]{8}-[0-9a-f]{4}/, key);
  });

  it('the counters and gauges move as events are published, attempts made and deliveries finish', async () => {
    // The live subscription is armed (it has received an attempt) before the figures are read, so the
    // publishes below cannot race its start; the arming webhook is gone again when they are.
    const feed = feedClient(s.url, s.keys.VIEWER);
    clients.push(feed);
    const live = collect(feed, ATTEMPTS_SUBSCRIPTION, {}, 'deliveryAttempts');
    const armer = await createWebhook(s, { url: `${r.url}${uniquePath('m-armer')}`, subs: [['USERS', 'CREATE']] });
    let arming = 0;
    await armed(
      'the live subscription',
      () => publish(s, 'USERS', 'CREATE', { id: `m-armer-${++arming}` }),
      () => live.items.length > 0,
    );
    await quiesce(s);
    await s.gql('mutation($id: ID!) { deleteWebhook(id: $id) }', { id: armer.id });
    live.items.length = 0;

    const before = (await scrape(url())).samples;
    const ok = uniquePath('m-ok');
    const bad = uniquePath('m-bad');
    r.on(bad, () => ({ status: 500 }));
    const a = await createWebhook(s, { url: `${r.url}${ok}`, subs: [['COURSES', 'CREATE']] });
    const b = await createWebhook(s, { url: `${r.url}${bad}`, subs: [['COURSES', 'CREATE']] });
    for (let i = 0; i < 3; i++) {
      const ev = await publish(s, 'COURSES', 'CREATE', { id: `m-${i}` });
      await waitForAttempts(s, deliveryFor(ev, a.id), 1);
      await waitForAttempts(s, deliveryFor(ev, b.id), 1);
    }
    await eventually(() => live.items.length >= 6, 10_000, 'the live subscription');
    const after = (await scrape(url())).samples;
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    assert.equal(delta('hookline_events_published_total{resource="COURSES",action="CREATE"}'), 3);
    assert.equal(delta('hookline_publish_duration_seconds_count'), 3);
    assert.equal(delta('hookline_attempts_total{outcome="SUCCESS"}'), 3);
    assert.equal(delta('hookline_attempts_total{outcome="HTTP_ERROR"}'), 3);
    assert.equal(delta('hookline_attempt_duration_seconds_count'), 6);
    assert.equal(delta('hookline_deliveries_finished_total{status="SUCCEEDED"}'), 3);
    assert.equal(delta('hookline_deliveries_finished_total{status="FAILED"}'), 0, 'the failures are retrying (1 h)');
    assert.equal(after.get('hookline_feed_subscribers'), 1);
    assert.equal(after.get('hookline_worker_in_flight'), 0);
    // Read from the database at most every 5 s: the two new webhooks show within that.
    await eventually(
      async () => (await scrape(url())).samples.get('hookline_webhooks{status="ACTIVE"}') === 2,
      10_000,
      'the webhook gauge',
    );

    await s.gql('mutation($id: ID!) { deleteWebhook(id: $id) }', { id: b.id });
    const cancelled = (await scrape(url())).samples;
    assert.equal(
      (cancelled.get('hookline_deliveries_finished_total{status="CANCELLED"}') ?? 0) -
        (before.get('hookline_deliveries_finished_total{status="CANCELLED"}') ?? 0),
      3,
      'deleting the webhook cancelled its 3 retrying deliveries',
    );
  });

  it('subscribers of the same operation share one execution (hookline_feed_executions), and each gets every attempt', async () => {
    const w = await createWebhook(s, {
      url: `${r.url}${uniquePath('m-shared')}`,
      subs: [['LIVE_TRAININGS', 'CREATE']],
    });
    const same = [0, 1, 2].map(() => feedClient(s.url, s.keys.VIEWER));
    const filtered = feedClient(s.url, s.keys.VIEWER);
    clients.push(...same, filtered);
    // The earlier test's subscriber has the same operation as these three: one execution for the four of them.
    const lives = same.map((c) => collect(c, ATTEMPTS_SUBSCRIPTION, {}, 'deliveryAttempts'));
    const mine = collect(filtered, ATTEMPTS_SUBSCRIPTION, { w: w.id }, 'deliveryAttempts');
    await eventually(
      async () => (await scrape(url())).samples.get('hookline_feed_subscribers') === 5,
      10_000,
      'five subscribers',
    );
    assert.equal((await scrape(url())).samples.get('hookline_feed_executions'), 2);
    const ev = await publish(s, 'LIVE_TRAININGS', 'CREATE', { id: 'shared-1' });
    for (const c of [...lives, mine]) {
      await eventually(
        () => c.items.some((a) => (a as { eventId: string }).eventId === ev.id),
        10_000,
        'the attempt, to every subscriber',
      );
    }
  });

  it('the queue gauges read the due backlog and the age of its oldest entry', async () => {
    // No worker claims here: what is published stays due.
    const quiet = await startServer('metrics_due', { env: { HOOKLINE_WORKER: 'false' } });
    try {
      await createWebhook(quiet, { url: `${r.url}${uniquePath('m-due')}`, subs: [['PROGRAMS', 'CREATE']] });
      const paused = await createWebhook(quiet, {
        url: `${r.url}${uniquePath('m-parked')}`,
        subs: [['PROGRAMS', 'UPDATE']],
      });
      await quiet.gql('mutation($id: ID!) { pauseWebhook(id: $id) { id } }', { id: paused.id });
      for (let i = 0; i < 2; i++) await publish(quiet, 'PROGRAMS', 'UPDATE', { id: `parked-${i}` });
      for (let i = 0; i < 4; i++) await publish(quiet, 'PROGRAMS', 'CREATE', { id: `due-${i}` });
      // The oldest of the 4 due entries backdated a minute; the 2 parked while paused are not due.
      await quiet.db.pool.query(
        `UPDATE delivery_queue SET next_attempt_at = now() - interval '60 seconds'
          WHERE delivery_id = (SELECT delivery_id FROM delivery_queue WHERE next_attempt_at IS NOT NULL ORDER BY next_attempt_at LIMIT 1)`,
      );
      const metrics = `${new URL(quiet.url).origin}/metrics`;
      const { samples } = await scrape(metrics);
      assert.equal(samples.get('hookline_queue_due'), 4);
      const oldest = samples.get('hookline_queue_oldest_due_seconds') ?? 0;
      assert.ok(oldest >= 60 && oldest < 120, `oldest due ${oldest} s`);
    } finally {
      await quiet.stop();
    }
  });

  it('HOOKLINE_METRICS_TOKEN protects /metrics', async () => {
    const token = 'metrics-token-0123456789';
    const guarded = await startServer('metrics_token', {
      env: { HOOKLINE_WORKER: 'false', HOOKLINE_METRICS_TOKEN: token },
    });
    try {
      const origin = new URL(guarded.url).origin;
      const refused = await fetch(`${origin}/metrics`);
      assert.equal(refused.status, 401);
      assert.equal(
        ((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code,
        'UNAUTHENTICATED',
      );
      assert.equal(
        (await fetch(`${origin}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status,
        401,
      );
      const { samples } = await scrape(`${origin}/metrics`, token);
      assert.ok(samples.has('hookline_queue_due'));
    } finally {
      await guarded.stop();
    }
  });
});

describe('a hookline worker process', () => {
  it('serves /healthz, /readyz and /metrics on HOOKLINE_WORKER_PORT, with the counters of its deliveries', async () => {
    const db = await freshDatabase('metrics_worker');
    const keys = await insertKeys(db);
    const r = await startReceiver();
    const api = await spawnServer(db, { keys, env: { HOOKLINE_WORKER: 'false' } });
    const worker = await spawnServer(db, { keys, kind: 'worker' });
    try {
      await Promise.all([api.ready(), worker.ready()]);
      const base = `http://127.0.0.1:${worker.workerPort}`;
      assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(((await ready.json()) as { status: string }).status, 'ready');
      assert.equal((await fetch(`${base}/graphql`)).status, 404, 'a worker serves no API');

      await api.gql(
        `mutation($u: String!) { createWebhook(input: {name: "w", destinationUrl: $u, subscriptions: [{resource: USERS, action: DELETE}]}) { id } }`,
        { u: `${r.url}/w` },
      );
      for (let i = 0; i < 2; i++) {
        await api.gql(
          'mutation($p: JSONObject!) { publishEvent(input: {resource: USERS, action: DELETE, payload: $p}) { id } }',
          { p: { id: `w${i}` } },
          'PUBLISHER',
        );
      }
      await eventually(() => r.received.length === 2, 10_000, 'the deliveries');
      await eventually(
        async () => {
          const { samples } = await scrape(`${base}/metrics`);
          return (
            samples.get('hookline_attempts_total{outcome="SUCCESS"}') === 2 &&
            samples.get('hookline_deliveries_finished_total{status="SUCCEEDED"}') === 2
          );
        },
        10_000,
        "the worker's counters",
      );
      const apiMetrics = (await scrape(`http://127.0.0.1:${api.port}/metrics`)).samples;
      assert.equal(
        apiMetrics.get('hookline_events_published_total{resource="USERS",action="DELETE"}'),
        2,
        'the API counts what it published',
      );
      assert.equal(
        apiMetrics.get('hookline_attempts_total{outcome="SUCCESS"}'),
        0,
        'and no attempts: it has no worker',
      );
    } finally {
      await Promise.all([api.stop(), worker.stop()]);
      await r.close();
      await db.close();
    }
  });
});
