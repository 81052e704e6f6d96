import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createLogger } from '../../src/logger.js';
import { Notices } from '../../src/services/notices.js';
import { disableWebhook } from '../../src/storage/sql/webhooks.js';
import {
  createWebhook,
  eventually,
  freshDatabase,
  must,
  quiesce,
  receivedAt,
  startReceiver,
  startServer,
  uniquePath,
  type Receiver,
  type TestDatabase,
  type TestServer,
} from '../kit/index.js';

// The circuit breaker and the notices (delivery contract, revision 3). Time is
// not waited for: a probe's time is brought forward by backdating the circuit
// (circuit_next_probe_at), as if its interval had passed.

const NOTICES: [string, string][] = [
  ['WEBHOOKS', 'FAILING'],
  ['WEBHOOKS', 'RECOVERED'],
  ['WEBHOOKS', 'DISABLED'],
];
const PUBLISH_MANY = `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }`;

interface Circuit {
  circuit_state: string;
  circuit_probe_ms: number | null;
  consecutive_failures: number;
}

describe('the circuit breaker', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('breaker', { env: { HOOKLINE_PUBLIC_URL: 'https://hookline.example.com/' } });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  const circuit = async (id: string) =>
    (
      await s.db.pool.query<Circuit>(
        'SELECT circuit_state, circuit_probe_ms, consecutive_failures FROM webhooks WHERE id = $1',
        [id],
      )
    ).rows[0]!;
  const statuses = async (id: string) =>
    Object.fromEntries(
      (
        await s.db.pool.query<{ status: string; n: number }>(
          'SELECT status, count(*)::int AS n FROM deliveries WHERE webhook_id = $1 GROUP BY 1',
          [id],
        )
      ).rows.map((x) => [x.status, x.n]),
    );
  /** As if the probe interval had passed. */
  const probeDue = (id: string) =>
    s.db.pool.query(`UPDATE webhooks SET circuit_next_probe_at = now() - interval '1 ms' WHERE id = $1`, [id]);

  it('a destination failing for 10 minutes with 2,000 pending gets a few probes, loses no delivery, and drains once it answers', async () => {
    const path = uniquePath('failing');
    const monitorPath = uniquePath('monitor');
    let down = true;
    r.on(path, () => (down ? { status: 500, body: 'down' } : { status: 200 }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['USERS', 'CREATE'], ...NOTICES] });
    const monitor = await createWebhook(s, { url: `${r.url}${monitorPath}`, subs: NOTICES });
    for (let i = 0; i < 2000; i += 100) {
      const inputs = Array.from({ length: 100 }, (_, k) => ({
        resource: 'USERS',
        action: 'CREATE',
        payload: { id: `u${i + k}` },
      }));
      must(await s.gql(PUBLISH_MANY, { inputs }, 'PUBLISHER'), 'publishEvents');
    }
    await eventually(async () => (await circuit(w.id)).circuit_state === 'OPEN', 10_000, 'the circuit to open');
    await quiesce(s);
    const beforeProbes = receivedAt(r, path).length;
    // The threshold's failures, and what was already in flight beside the last of them
    // (HOOKLINE_PER_WEBHOOK_CONCURRENCY, 10): nothing starts once this worker has counted ten.
    assert.ok(beforeProbes <= 10 + 10 - 1, `${beforeProbes} requests before the circuit opened`);

    // Ten minutes of an open circuit: probes after 30 s, 60 s, 120 s, 240 s (then every 300 s).
    for (const interval of [60_000, 120_000, 240_000, 300_000]) {
      const sent = receivedAt(r, path).length;
      await probeDue(w.id);
      await eventually(
        async () => receivedAt(r, path).length === sent + 1 && (await circuit(w.id)).circuit_probe_ms === interval,
        10_000,
        `a failed probe, then ${interval} ms to the next`,
      );
      await quiesce(s);
      assert.equal(receivedAt(r, path).length, sent + 1, 'one probe per interval');
      assert.equal((await circuit(w.id)).circuit_state, 'OPEN');
    }
    const total = receivedAt(r, path).length;
    assert.ok(total <= 25, `${total} requests reached the failing destination (${beforeProbes} before it opened)`);
    assert.deepEqual(await statuses(w.id), { PENDING: 2000 }, 'nothing failed, nothing was lost');
    const probed = await s.db.pool.query<{ probes: number; attempts: number }>(
      'SELECT probes, attempt_count AS attempts FROM delivery_queue WHERE webhook_id = $1 AND probes > 0',
      [w.id],
    );
    assert.equal(
      probed.rows.reduce((n, p) => n + p.probes, 0),
      4,
      'the probes are counted apart from the schedule',
    );

    down = false;
    await probeDue(w.id);
    await eventually(async () => (await circuit(w.id)).circuit_state === 'CLOSED', 10_000, 'the circuit to close');
    await eventually(async () => (await statuses(w.id)).SUCCEEDED === 2000, 60_000, 'the backlog to drain');
    assert.deepEqual(await circuit(w.id), { circuit_state: 'CLOSED', circuit_probe_ms: null, consecutive_failures: 0 });

    // Exactly one notice per change, to the monitor only: never to the webhook it is about.
    await eventually(() => receivedAt(r, monitorPath).length >= 2, 10_000, 'the notices');
    await quiesce(s);
    const notices = receivedAt(r, monitorPath).map(
      (x) => JSON.parse(x.body) as { type: string; data: Record<string, unknown> },
    );
    assert.deepEqual(
      notices.map((n) => n.type),
      ['webhook.failing', 'webhook.recovered'],
    );
    const [failing, recovered] = notices;
    assert.equal(failing!.data.id, w.id);
    assert.equal(failing!.data.name, 'test webhook');
    assert.equal(failing!.data.destination_host, new URL(r.url).host);
    assert.equal(failing!.data.status, 'ACTIVE');
    assert.ok((failing!.data.consecutive_failures as number) >= 10);
    assert.ok(failing!.data.failing_since);
    assert.equal(failing!.data.console_url, `https://hookline.example.com/console#/webhooks/${w.id}`);
    assert.equal(recovered!.data.consecutive_failures, 0);
    assert.equal(
      receivedAt(r, path).filter((x) => (JSON.parse(x.body) as { type: string }).type.startsWith('webhook.')).length,
      0,
      'the failing webhook never hears of itself',
    );
    assert.equal(monitor.status, 'ACTIVE');
  });
});

describe('notices', () => {
  let db: TestDatabase;
  const log = createLogger('silent');
  before(async () => {
    db = await freshDatabase('notices');
  });
  after(async () => {
    await db.close();
  });

  it('two instances emptying the outbox at once publish each notice exactly once, and the notices account gets a copy', async () => {
    const account = async (key: string) =>
      (await db.pool.query<{ id: string }>(`INSERT INTO accounts (key, name) VALUES ($1, $1) RETURNING id`, [key]))
        .rows[0]!.id;
    const customer = await account('customer');
    const ops = await account('platform-ops');
    const webhook = async (accountId: string) =>
      (
        await db.pool.query<{ id: string }>(
          `INSERT INTO webhooks (account_id, name, destination_url) VALUES ($1, 'w', 'http://127.0.0.1:9/') RETURNING id`,
          [accountId],
        )
      ).rows[0]!.id;
    const subjects = await Promise.all([1, 2, 3, 4, 5].map(() => webhook(customer)));
    for (const id of subjects) assert.equal(await disableWebhook(db.pool, id, 'endpoint answered 410 Gone'), true);
    assert.equal(await disableWebhook(db.pool, subjects[0]!, 'again'), false, 'no change, no notice');

    const pools = [db.pool, new pg.Pool({ connectionString: db.url, max: 2 })];
    const instances = pools.map(
      (pool) =>
        new Notices(pool, log, {
          publicUrl: 'http://localhost:4000',
          noticesAccount: 'platform-ops',
          releaseRate: 100,
        }),
    );
    await Promise.all(instances.map((n) => n.flush()));
    await Promise.all(instances.map((n) => n.flush()));
    const { rows } = await db.pool.query<{ account_id: string; about: string; type: string; n: number }>(
      `SELECT account_id, about_webhook_id AS about, type, count(*)::int AS n FROM events WHERE resource = 'WEBHOOKS'
       GROUP BY 1, 2, 3`,
    );
    assert.equal(rows.length, 10, 'one event per notice in the customer account, one in the notices account');
    for (const row of rows) {
      assert.equal(row.type, 'webhook.disabled');
      assert.equal(row.n, 1);
      assert.ok(subjects.includes(row.about));
      assert.ok([customer, ops].includes(row.account_id));
    }
    const left = await db.pool.query('SELECT count(*)::int AS n FROM webhook_notices');
    assert.deepEqual(left.rows, [{ n: 0 }]);
    await pools[1]!.end();
  });
});
