import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  TEST_SECRET_KEYS,
  createWebhook,
  eventually,
  freshDatabase,
  publish,
  quiesce,
  receivedAt,
  startReceiver,
  startServer,
  uniquePath,
  v1Verifies,
  type Receiver,
  type TestDatabase,
  type TestServer,
} from '../kit/index.js';

// A rolling key change: instance A has the new secret key and seals a new
// webhook's secret with it; instance B, not restarted yet, lacks it. B's worker
// must not burn the delivery's attempts or hold it: it hands the claim back
// (attempt not counted), leaves the webhook to others, and says so in /readyz
// and /metrics. An instance with the key then delivers it as attempt 1.

const NEW_KEYS = `new:${Buffer.alloc(32, 9).toString('base64')},${TEST_SECRET_KEYS}`;
const SECRET = 'whsec_' + Buffer.alloc(24, 5).toString('base64');

describe('delivery: a worker without the secret key', () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  let r: Receiver;

  before(async () => {
    db = await freshDatabase('dlv_keyless');
    r = await startReceiver();
    b = await startServer('dlv_keyless_b', { db });
    a = await startServer('dlv_keyless_a', {
      db,
      keys: b.keys,
      env: { HOOKLINE_SECRET_KEYS: NEW_KEYS, HOOKLINE_WORKER: 'false' },
    });
  });
  after(async () => {
    await a.stop();
    await b.stop();
    await db.close();
    await r.close();
  });

  it('hands the claim back unspent, reports the key in /readyz and /metrics, and a keyed worker delivers it', async () => {
    const path = uniquePath('keyless');
    const w = await createWebhook(a, { url: r.url + path, subs: [['USERS', 'CREATE']], hmacSecret: SECRET });
    const e = await publish(a, 'USERS', 'CREATE', { id: 'u-keyless' });
    const origin = new URL(b.url).origin;

    await eventually(
      async () => {
        const res = await fetch(`${origin}/readyz`);
        const body = (await res.json()) as { missingSecretKeys?: string[] };
        return res.status === 503 && body.missingSecretKeys?.join() === 'new';
      },
      10_000,
      "B's /readyz naming the key it lacks",
    );
    const missing = async () => {
      const text = await (await fetch(`${origin}/metrics`)).text();
      return Number(/^hookline_secret_key_missing_total (\d+)/m.exec(text)?.[1]);
    };
    assert.equal(await missing(), 1);
    // B is idle: its claims skip the webhook instead of taking the delivery again and again.
    await quiesce(b);
    assert.equal(await missing(), 1, 'claimed once, then left to others');
    const { rows } = await db.pool.query<{ attempt_count: number; due: boolean }>(
      'SELECT attempt_count, next_attempt_at <= now() AS due FROM delivery_queue WHERE delivery_id = $1',
      [e.deliveries[0]!.id],
    );
    assert.deepEqual(rows, [{ attempt_count: 0, due: true }], 'due, its attempt not used up');
    assert.equal(receivedAt(r, path).length, 0);

    const c = await startServer('dlv_keyless_c', { db, keys: b.keys, env: { HOOKLINE_SECRET_KEYS: NEW_KEYS } });
    try {
      await eventually(() => receivedAt(r, path).length === 1, 10_000, 'the keyed worker delivering');
      assert.ok(v1Verifies(SECRET, receivedAt(r, path)[0]!));
      await quiesce(c);
      const d = await db.pool.query<{ status: string; attempt_count: number; attempts: number }>(
        `SELECT status, attempt_count, (SELECT count(*)::int FROM delivery_attempts WHERE delivery_id = d.id) AS attempts
         FROM deliveries d WHERE id = $1`,
        [e.deliveries[0]!.id],
      );
      assert.deepEqual(d.rows, [{ status: 'SUCCEEDED', attempt_count: 1, attempts: 1 }]);
      assert.equal(w.hasHmacSecret, true);
    } finally {
      await c.stop();
    }
  });
});
