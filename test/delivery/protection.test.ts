import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  busiestStartedSecond,
  eventually,
  freshDatabase,
  insertKeys,
  must,
  quiesce,
  receivedAt,
  spawnServer,
  startReceiver,
  startServer,
  uniquePath,
  type Api,
  type Receiver,
  type ServerProcess,
  type TestDatabase,
  type TestServer,
} from '../kit/index.js';

// Endpoint protection (delivery contract, revision 3): a webhook's rateLimit
// and maxInFlight hold across every worker process, decided in the claim with
// their state in PostgreSQL; waiting spends no attempt.

const CREATE = `mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { id rateLimit maxInFlight } }`;
const PUBLISH_MANY = `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }`;

async function limitedWebhook(
  api: Api,
  url: string,
  limits: { rateLimit?: number; maxInFlight?: number },
  resource = 'USERS',
) {
  const r = await api.gql<{ createWebhook: { id: string; rateLimit: number | null; maxInFlight: number | null } }>(
    CREATE,
    {
      input: {
        name: 'limited',
        destinationUrl: url,
        subscriptions: [{ resource, action: 'CREATE' }],
        ...limits,
      },
    },
  );
  return must(r, 'createWebhook').createWebhook;
}

async function publishUsers(api: Api, n: number, tag: string, resource = 'USERS'): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    const inputs = Array.from({ length: Math.min(100, n - i) }, (_, k) => ({
      resource,
      action: 'CREATE',
      payload: { id: `${tag}-${i + k}` },
    }));
    must(await api.gql(PUBLISH_MANY, { inputs }, 'PUBLISHER'), 'publishEvents');
  }
}

/** An API process without a worker and two worker processes on one fresh database, with a receiver. */
function twoWorkers(label: string) {
  const world = {} as { db: TestDatabase; r: Receiver; api: ServerProcess; procs: ServerProcess[] };
  before(async () => {
    world.db = await freshDatabase(label);
    const keys = await insertKeys(world.db);
    world.r = await startReceiver();
    world.api = await spawnServer(world.db, { keys, env: { HOOKLINE_WORKER: 'false' } });
    const workers = [0, 1].map(() => spawnServer(world.db, { keys, kind: 'worker' }));
    world.procs = [world.api, ...(await Promise.all(workers))];
    await Promise.all(world.procs.map((p) => p.ready()));
  });
  after(async () => {
    await Promise.all(world.procs.map((p) => p.stop()));
    await world.r.close();
    await world.db.close();
  });
  return world;
}

describe('limits across two worker processes', () => {
  const world = twoWorkers('limits_workers');

  /** Once all `n` are recorded: how many deliveries took how many attempts. */
  const attemptCounts = async (webhookId: string, n: number) => {
    const counts = async () =>
      (
        await world.db.pool.query<{ attempts: number; n: number }>(
          `SELECT attempt_count AS attempts, count(*)::int AS n FROM deliveries WHERE webhook_id = $1 AND status = 'SUCCEEDED'
           GROUP BY 1 ORDER BY 1`,
          [webhookId],
        )
      ).rows;
    await eventually(async () => (await counts()).reduce((sum, c) => sum + c.n, 0) === n, 10_000, 'attempts recorded');
    return counts();
  };

  it('rateLimit: no second holds more requests than the limit, and waiting spends no attempt', async () => {
    const path = uniquePath('rate');
    const w = await limitedWebhook(world.api, `${world.r.url}${path}`, { rateLimit: 20 });
    assert.equal(w.rateLimit, 20);
    await publishUsers(world.api, 100, 'rate');
    // While they wait, the log shows when each is expected to go, and no attempt is spent.
    const waiting = await eventually(
      async () =>
        (
          await world.db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM deliveries
             WHERE webhook_id = $1 AND status = 'PENDING' AND attempt_count = 0 AND next_attempt_at > now() + interval '1 second'`,
            [w.id],
          )
        ).rows[0]!.n,
      10_000,
      'deliveries waiting for the rate limit, with their expected time',
    );
    assert.ok(waiting > 0);
    await eventually(() => receivedAt(world.r, path).length >= 100, 30_000, 'every delivery');
    const arrivals = receivedAt(world.r, path).map((x) => x.atNs);
    assert.equal(arrivals.length, 100, 'each delivered once');
    const span = Number(arrivals.at(-1)! - arrivals[0]!) / 1e9;
    assert.ok(span >= 4, `100 requests at 20/s take at least 4 s, took ${span.toFixed(1)} s`);
    assert.deepEqual(await attemptCounts(w.id, 100), [{ attempts: 1, n: 100 }]);
    // The rule itself, on the workers' own start times (the bench's rate-limit row measures arrivals).
    const busiest = await busiestStartedSecond(world.db.pool, w.id);
    assert.ok(busiest <= 20, `${busiest} requests started within one second (limit 20)`);
  });

  it('maxInFlight: the destination never has more requests open than the limit', async () => {
    const path = uniquePath('flight');
    let open = 0;
    let most = 0;
    world.r.on(path, () => {
      open++;
      most = Math.max(most, open);
      return { status: 200, until: new Promise((done) => setTimeout(done, 100)).then(() => open--) };
    });
    const w = await limitedWebhook(world.api, `${world.r.url}${path}`, { maxInFlight: 3 }, 'COURSES');
    await publishUsers(world.api, 40, 'flight', 'COURSES');
    await eventually(() => receivedAt(world.r, path).length >= 40, 30_000, 'every delivery');
    assert.ok(most <= 3, `${most} requests were open at once (limit 3)`);
    assert.ok(most >= 2, `both workers' slots were used (${most} at once)`);
    assert.deepEqual(await attemptCounts(w.id, 40), [{ attempts: 1, n: 40 }]);
    const flow = await world.db.pool.query<{ claims: number }>(
      `SELECT cardinality(claims) AS claims FROM webhook_flow WHERE webhook_id = $1`,
      [w.id],
    );
    assert.deepEqual(flow.rows, [{ claims: 0 }], 'every finished claim left the in-flight count');
  });
});

describe('notices with two worker processes', () => {
  const world = twoWorkers('notices_workers');

  it('both recording failures of one destination open its circuit once: one webhook.failing', async () => {
    const path = uniquePath('failing');
    const monitorPath = uniquePath('monitor');
    world.r.on(path, () => ({ status: 500 }));
    const failing = await limitedWebhook(world.api, `${world.r.url}${path}`, {});
    must(
      await world.api.gql(CREATE, {
        input: {
          name: 'monitor',
          destinationUrl: `${world.r.url}${monitorPath}`,
          subscriptions: ['FAILING', 'RECOVERED', 'DISABLED'].map((action) => ({ resource: 'WEBHOOKS', action })),
        },
      }),
      'createWebhook',
    );
    await publishUsers(world.api, 300, 'racing');
    await eventually(() => receivedAt(world.r, monitorPath).length >= 1, 20_000, 'the notice');
    const state = await world.db.pool.query<{ circuit_state: string }>(
      'SELECT circuit_state FROM webhooks WHERE id = $1',
      [failing.id],
    );
    assert.equal(state.rows[0]!.circuit_state, 'OPEN');
    // Once the outbox is empty, every notice there will be (until a probe, 30 s on) is an event.
    await eventually(
      async () => (await world.db.pool.query('SELECT 1 FROM webhook_notices')).rowCount === 0,
      10_000,
      'the outbox emptied',
    );
    const events = await world.db.pool.query<{ type: string; about: string }>(
      `SELECT type, about_webhook_id AS about FROM events WHERE resource = 'WEBHOOKS'`,
    );
    assert.deepEqual(events.rows, [{ type: 'webhook.failing', about: failing.id }]);
    const notice = JSON.parse(receivedAt(world.r, monitorPath)[0]!.body) as { type: string; data: { id: string } };
    assert.deepEqual([notice.type, notice.data.id], ['webhook.failing', failing.id]);
  });
});

describe('limits in the API', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer('limits_api', { env: { HOOKLINE_WORKER: 'false' } });
  });
  after(async () => {
    await s.stop();
  });

  const UPDATE = `mutation($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { rateLimit maxInFlight } }`;

  it('refuses a limit out of range naming the field, and stores nothing', async () => {
    for (const [field, value] of [
      ['rateLimit', 0],
      ['rateLimit', 1001],
      ['maxInFlight', -1],
      ['maxInFlight', 5000],
    ] as const) {
      const res = await s.gql(CREATE, {
        input: { name: 'x', destinationUrl: 'http://127.0.0.1:9/x', [field]: value },
      });
      assert.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `${field} ${value}`);
      assert.equal(res.errors?.[0]?.extensions?.field, `input.${field}`);
      assert.match(res.errors![0]!.message, /from 1 to 1000/);
    }
    const { rows } = await s.db.pool.query('SELECT count(*)::int AS n FROM webhooks');
    assert.deepEqual(rows, [{ n: 0 }]);
  });

  it('sets, keeps and removes limits; a webhook has flow state only while it has a limit', async () => {
    const w = await limitedWebhook(s, 'http://127.0.0.1:9/x', { rateLimit: 5 });
    const flowRows = async () =>
      (await s.db.pool.query('SELECT 1 FROM webhook_flow WHERE webhook_id = $1', [w.id])).rowCount;
    assert.equal(await flowRows(), 1);
    const upd = async (input: Record<string, unknown>) =>
      must(
        await s.gql<{ updateWebhook: { rateLimit: number | null; maxInFlight: number | null } }>(UPDATE, {
          id: w.id,
          input,
        }),
        'updateWebhook',
      ).updateWebhook;
    assert.deepEqual(await upd({ maxInFlight: 2 }), { rateLimit: 5, maxInFlight: 2 });
    assert.deepEqual(await upd({ name: 'renamed' }), { rateLimit: 5, maxInFlight: 2 }, 'omitted: kept');
    assert.deepEqual(await upd({ rateLimit: 0 }), { rateLimit: null, maxInFlight: 2 });
    assert.equal(await flowRows(), 1);
    assert.deepEqual(await upd({ maxInFlight: 0 }), { rateLimit: null, maxInFlight: null });
    assert.equal(await flowRows(), 0);
    const audit = await s.db.pool.query<{ changes: Record<string, unknown> }>(
      `SELECT changes FROM audit_log WHERE target_id = $1 AND action = 'webhook.updated' ORDER BY id`,
      [w.id],
    );
    assert.deepEqual(
      audit.rows
        .map((a) => Object.keys(a.changes))
        .flat()
        .filter((k) => k !== 'name'),
      ['maxInFlight', 'rateLimit', 'maxInFlight'],
    );
  });

  it('shows a closed circuit by default', async () => {
    const w = await limitedWebhook(s, 'http://127.0.0.1:9/y', {});
    const res = await s.gql<{ webhook: { circuit: unknown } }>(
      '{ webhook: webhook(id: "' + w.id + '") { circuit { state consecutiveFailures openedAt nextProbeAt } } }',
    );
    assert.deepEqual(must(res, 'webhook').webhook.circuit, {
      state: 'CLOSED',
      consecutiveFailures: 0,
      openedAt: null,
      nextProbeAt: null,
    });
  });
});

// Not a limit, but checked beside them: the fast path claims nothing for a limited webhook.
describe('the fast path leaves limited webhooks to the claim', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('limits_fast_path');
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('a burst above the rate limit to a webhook of this process still keeps to it', async () => {
    const path = uniquePath('fast');
    const w = await limitedWebhook(s, `${r.url}${path}`, { rateLimit: 10 });
    await publishUsers(s, 25, 'fast');
    await eventually(() => receivedAt(r, path).length >= 25, 30_000, 'every delivery');
    await quiesce(s);
    const busiest = await busiestStartedSecond(s.db.pool, w.id);
    assert.ok(busiest <= 10, `${busiest} requests started within one second (limit 10)`);
  });

  it('redeliveries, a replay and test events keep to maxInFlight like first attempts', async () => {
    const path = uniquePath('again');
    let open = 0;
    let most = 0;
    r.on(path, () => {
      open++;
      most = Math.max(most, open);
      return { status: 200, until: new Promise((done) => setTimeout(done, 50)).then(() => open--) };
    });
    const w = await limitedWebhook(s, `${r.url}${path}`, { maxInFlight: 2 }, 'PROGRAMS');
    await publishUsers(s, 6, 'again', 'PROGRAMS');
    await eventually(() => receivedAt(r, path).length >= 6, 20_000, 'first attempts');
    await quiesce(s);
    const { rows } = await s.db.pool.query<{ id: string }>('SELECT id FROM deliveries WHERE webhook_id = $1', [w.id]);
    for (const { id } of rows)
      must(await s.gql('mutation($id: ID!) { redeliver(deliveryId: $id) { id } }', { id }), 'redeliver');
    // One after the other: a delivery still queued for its redelivery is not replayed (it is on its way).
    await eventually(() => receivedAt(r, path).length >= 12, 20_000, 'the redeliveries');
    await quiesce(s);
    const replayed = must(
      await s.gql<{ replayDeliveries: { count: number } }>(
        'mutation($id: ID!, $since: DateTimeISO!) { replayDeliveries(webhookId: $id, since: $since, scope: ALL) { count } }',
        {
          id: w.id,
          since: new Date(Date.now() - 3_600_000).toISOString(),
        },
      ),
      'replayDeliveries',
    ).replayDeliveries.count;
    assert.equal(replayed, 6);
    await eventually(() => receivedAt(r, path).length >= 18, 20_000, 'the replay');
    for (let i = 0; i < 4; i++) {
      must(
        await s.gql('mutation($id: ID!) { sendTestEvent(webhookId: $id, resource: PROGRAMS, action: CREATE) { id } }', {
          id: w.id,
        }),
        'sendTestEvent',
      );
    }
    await eventually(() => receivedAt(r, path).length >= 6 + 6 + 6 + 4, 30_000, 'every delivery again');
    await quiesce(s);
    assert.ok(most <= 2, `${most} requests were open at once (limit 2)`);
    assert.equal(most, 2, 'the limit, not one at a time');
  });
});
