import { after, before, beforeEach, describe, it } from 'node:test';
import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import assert from 'node:assert/strict';
import { cancelDeliveries, claimDue, recordAttempts, type AttemptRecord } from '../../src/storage/sql/deliveries.js';
import type { ClaimRequest } from '../../src/storage/sql/claim.js';
import { randomUUID } from 'node:crypto';
import { insertEvents } from '../../src/storage/sql/events.js';
import { inTransaction, type Db } from '../../src/storage/sql/db.js';
import {
  freshDatabase,
  type TestDatabase,
  startServer,
  eventually,
  type TestServer,
  startReceiver,
  type Receiver,
  quiesce,
  createWebhook,
  getDelivery,
  receivedAt,
  uniquePath,
  waitForAttempts,
} from '../kit/index.js';

// The queue's crash-safety, straight on its SQL: a claim is a lease
// (next_attempt_at pushed forward), attempt_count is the fencing token, and
// FOR UPDATE SKIP LOCKED keeps concurrent claimers apart. No sleeping: lease
// expiry is simulated by backdating next_attempt_at.

const LEASE_MS = 60_000;

/** What a claim from the first account takes. */
const claim = async (db: Db, r: ClaimRequest) => (await claimDue(db, r)).rows;

function req(over: Partial<ClaimRequest> = {}): ClaimRequest {
  return {
    limit: 100,
    perWebhookCap: 1000,
    busyWebhooks: [],
    busyCounts: [],
    saturated: [],
    perAccountCap: 1000,
    busyAccounts: [],
    accountCounts: [],
    leaseMs: LEASE_MS,
    ...over,
  };
}

async function insertWebhook(db: Db, opts: { url?: string; pair?: [string, string] } = {}): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO webhooks (account_id, name, destination_url, bearer_token, hmac_secret) VALUES ('00000000-0000-4000-8000-000000000001', 'sql', $1, 'tok', 'secret') RETURNING id`,
    [opts.url ?? 'http://destination.invalid/hook'],
  );
  const id = rows[0]!.id;
  const [resource, action] = opts.pair ?? ['USERS', 'CREATE'];
  await db.query(
    `INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action) VALUES ('${DEFAULT_ACCOUNT_ID}', $1, $2, $3)`,
    [id, resource, action],
  );
  return id;
}

async function insertEvent(
  db: Db,
  payload: Record<string, unknown> = { id: '1' },
  pair: [string, string] = ['USERS', 'CREATE'],
): Promise<string> {
  const [ev] = await insertEvents(db, [
    {
      id: randomUUID(),
      accountId: DEFAULT_ACCOUNT_ID,
      resource: pair[0],
      action: pair[1],
      type: 'user.created',
      payload: JSON.stringify(payload),
      occurredAt: null,
      idempotencyKey: null,
    },
  ]);
  assert.ok(ev);
  return ev.id;
}

function attempt(
  d: { id: string; webhook_id: string; event_id: string },
  n: number,
  over: Partial<AttemptRecord> = {},
): AttemptRecord {
  return {
    deliveryId: d.id,
    webhookId: d.webhook_id,
    accountId: DEFAULT_ACCOUNT_ID,
    eventId: d.event_id,
    attemptNumber: n,
    outcome: 'SUCCESS',
    responseStatus: 200,
    responseBody: null,
    errorMessage: null,
    durationMs: 5,
    startedAt: new Date(),
    nextStatus: 'SUCCEEDED',
    nextAttemptAt: null,
    ...over,
  };
}

interface Row {
  status: string;
  queued: boolean;
  attempt_count: number;
  next_attempt_at: Date | null;
  last_attempt_at: Date | null;
}

/** A delivery's state: its queue row's hot state while it is queued, the log's once it has left. */
async function deliveryRow(db: Db, id: string): Promise<Row> {
  const { rows } = await db.query<Row>(
    `SELECT d.status, coalesce(q.attempt_count, d.attempt_count) AS attempt_count,
            CASE WHEN q.delivery_id IS NULL THEN d.next_attempt_at ELSE q.next_attempt_at END AS next_attempt_at,
            d.last_attempt_at, q.delivery_id IS NOT NULL AS queued
     FROM deliveries d LEFT JOIN delivery_queue q ON q.delivery_id = d.id WHERE d.id = $1`,
    [id],
  );
  return rows[0]!;
}

/** Backdates a queued delivery's due time: a lease runs out, a retry comes due. */
async function backdate(db: Db, id?: string): Promise<void> {
  await db.query(
    `UPDATE delivery_queue SET next_attempt_at = now() - interval '1 second' WHERE $1::uuid IS NULL OR delivery_id = $1`,
    [id ?? null],
  );
}

async function makeAllDue(db: Db): Promise<void> {
  await db.query(`UPDATE delivery_queue SET next_attempt_at = now() - interval '1 second', attempt_count = 0`);
}

describe('queue SQL: leases, fencing, SKIP LOCKED, per-webhook cap', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('dlv_recovery_sql');
  });
  after(async () => {
    await db.close();
  });
  beforeEach(async () => {
    await db.pool.query(
      'TRUNCATE delivery_queue, delivery_attempts, deliveries, events, webhook_subscriptions, webhooks CASCADE',
    );
  });

  it("a dead worker's claim blocks others until its lease runs out; then the delivery is claimed again and only the new claim settles it", async () => {
    const webhookId = await insertWebhook(db.pool);
    const eventId = await insertEvent(db.pool, { id: '42', name: 'Ada' });

    const [first, ...more] = await claim(db.pool, req());
    assert.ok(first);
    assert.equal(more.length, 0);
    assert.equal(first.webhook_id, webhookId);
    assert.equal(first.event_id, eventId);
    assert.equal(first.attempt_count, 1);
    assert.equal(first.send, true);
    assert.equal(first.bearer_token, 'tok');
    assert.equal(first.hmac_secret, 'secret');
    const body = JSON.parse(first.body);
    assert.equal(body.id, eventId);
    assert.equal(body.type, 'user.created');
    assert.deepEqual(body.data, { id: '42', name: 'Ada' });
    // Leases are the database's time: compare with its now(), not this process's clock.
    const { rows: lease } = await db.pool.query<{ ms: number }>(
      'SELECT extract(epoch FROM next_attempt_at - now()) * 1000 AS ms FROM delivery_queue WHERE delivery_id = $1',
      [first.id],
    );
    assert.ok(lease[0]!.ms > LEASE_MS - 10_000 && lease[0]!.ms <= LEASE_MS, `lease left: ${lease[0]!.ms} ms`);

    // The "worker" dies here: it never records anything. While the lease holds, nobody else gets it.
    assert.deepEqual(await claim(db.pool, req()), []);

    await backdate(db.pool, first.id);
    const [again] = await claim(db.pool, req());
    assert.ok(again, 'claimed again once the lease ran out');
    assert.equal(again.id, first.id);
    assert.equal(again.attempt_count, 2);
    const reclaimed = await deliveryRow(db.pool, first.id);

    // The dead worker wakes up and reports attempt 1: logged, not applied.
    const stale = await recordAttempts(db.pool, [attempt(first, 1)]);
    assert.equal(stale.attempts.length, 1);
    assert.equal(stale.attempts[0]!.applied, false);
    assert.deepEqual(await deliveryRow(db.pool, first.id), reclaimed, 'a stale claim leaves the delivery unchanged');
    const logged = await db.pool.query('SELECT attempt_number FROM delivery_attempts WHERE delivery_id = $1', [
      first.id,
    ]);
    assert.deepEqual(
      logged.rows.map((x) => x.attempt_number),
      [1],
      'the stale attempt is still in the log',
    );

    // The live claim (attempt 2) settles it.
    const next = new Date(Date.now() + 3_600_000);
    const live = await recordAttempts(db.pool, [
      attempt(again, 2, { outcome: 'HTTP_ERROR', responseStatus: 500, nextStatus: 'PENDING', nextAttemptAt: next }),
    ]);
    assert.equal(live.attempts[0]!.applied, true);
    const settled = await deliveryRow(db.pool, first.id);
    assert.equal(settled.status, 'PENDING');
    assert.equal(settled.attempt_count, 2);
    assert.equal(settled.next_attempt_at?.getTime(), next.getTime());
    assert.ok(settled.last_attempt_at);
    assert.deepEqual(
      live.health.map((h) => [h.id, h.consecutive_failures]),
      [[webhookId, 1]],
    );

    // A later stale success cannot flip it either.
    const late = await recordAttempts(db.pool, [attempt(first, 1)]);
    assert.equal(late.attempts[0]!.applied, false);
    assert.equal((await deliveryRow(db.pool, first.id)).status, 'PENDING');
  });

  it('a batch holding a stale and the live attempt of one delivery reports applied for each attempt correctly', async () => {
    await insertWebhook(db.pool);
    await insertEvent(db.pool);
    const [first] = await claim(db.pool, req());
    await backdate(db.pool);
    const [again] = await claim(db.pool, req());
    assert.ok(first && again);
    assert.equal(again.attempt_count, 2);

    const res = await recordAttempts(db.pool, [
      attempt(first, 1, {
        outcome: 'TIMEOUT',
        responseStatus: null,
        nextStatus: 'PENDING',
        nextAttemptAt: new Date(Date.now() + 60_000),
      }),
      attempt(again, 2),
    ]);
    assert.equal((await deliveryRow(db.pool, first.id)).status, 'SUCCEEDED', 'the live attempt settles the delivery');
    assert.equal(res.attempts.length, 2);
    const byAttempt = new Map<number, boolean>();
    const numbers = await db.pool.query<{ id: string; attempt_number: number }>(
      'SELECT id, attempt_number FROM delivery_attempts',
    );
    const numberOf = new Map(numbers.rows.map((x) => [x.id, x.attempt_number]));
    for (const a of res.attempts) byAttempt.set(numberOf.get(a.id)!, a.applied);
    assert.deepEqual([...byAttempt.entries()].sort(), [
      [1, false],
      [2, true],
    ]);
  });

  it('the failure streak follows the order of attempts: a success followed by a failure in one batch leaves a streak of 1', async () => {
    const webhookId = await insertWebhook(db.pool);
    await insertEvent(db.pool, { id: 'a' });
    await insertEvent(db.pool, { id: 'b' });
    const [x, y] = await claim(db.pool, req());
    assert.ok(x && y);
    const t = Date.now();
    const failedAt = new Date(t + 1_000);
    const res = await recordAttempts(db.pool, [
      attempt(x, 1, { startedAt: new Date(t) }),
      attempt(y, 1, {
        outcome: 'HTTP_ERROR',
        responseStatus: 500,
        nextStatus: 'PENDING',
        nextAttemptAt: new Date(t + 3_600_000),
        startedAt: failedAt,
      }),
    ]);
    assert.ok(res.attempts.every((a) => a.applied));
    const { rows } = await db.pool.query<{ consecutive_failures: number; failing_since: Date | null }>(
      'SELECT consecutive_failures, failing_since FROM webhooks WHERE id = $1',
      [webhookId],
    );
    assert.equal(rows[0]!.consecutive_failures, 1, 'the latest attempt failed: the streak is 1, not reset');
    assert.equal(rows[0]!.failing_since?.getTime(), failedAt.getTime());
  });

  it('claims of a paused webhook park the delivery and of a deleted one cancel it, without sending', async () => {
    const paused = await insertWebhook(db.pool, { pair: ['USERS', 'CREATE'] });
    const deleted = await insertWebhook(db.pool, { pair: ['USERS', 'CREATE'] });
    await insertEvent(db.pool);
    await db.pool.query(`UPDATE webhooks SET status = 'PAUSED' WHERE id = $1`, [paused]);
    await db.pool.query(`UPDATE webhooks SET deleted_at = now() WHERE id = $1`, [deleted]);

    const rows = await claim(db.pool, req());
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.send, false);
      assert.equal(row.attempt_count, 0, 'no attempt used');
      assert.equal(row.gone, row.webhook_id === deleted);
      if (row.gone) await cancelDeliveries(db.pool, [row.id]);
      const x = await deliveryRow(db.pool, row.id);
      assert.equal(x.next_attempt_at, null);
      assert.equal(x.status, row.webhook_id === paused ? 'PENDING' : 'CANCELLED');
      assert.equal(x.queued, row.webhook_id === paused, 'parked in the queue; cancelled out of it');
    }
    assert.deepEqual(await claim(db.pool, req()), [], 'parked and cancelled deliveries are not due');
  });

  it('FOR UPDATE SKIP LOCKED: a claim skips rows another open claim holds', async () => {
    const w = await insertWebhook(db.pool);
    for (let i = 0; i < 100; i++) await insertEvent(db.pool, { id: `e${i}` });
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      const a = await claim(holder, req({ limit: 60 }));
      assert.equal(a.length, 60);
      // While the first claim's transaction is open, a second claimer neither blocks nor takes its rows.
      const b = await claim(db.pool, req({ limit: 60 }));
      await holder.query('COMMIT');
      assert.equal(b.length, 40);
      const ids = new Set(a.map((x) => x.id));
      assert.ok(!b.some((x) => ids.has(x.id)), 'no delivery claimed twice');
      assert.ok([...a, ...b].every((x) => x.webhook_id === w && x.attempt_count === 1));
    } finally {
      holder.release();
    }
  });

  it('two concurrent claims over 100 due deliveries never return the same one', async () => {
    for (let k = 0; k < 4; k++) await insertWebhook(db.pool);
    for (let i = 0; i < 25; i++) await insertEvent(db.pool, { id: `e${i}` });
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM deliveries');
    assert.equal(rows[0]!.n, 100);
    for (let round = 0; round < 5; round++) {
      await makeAllDue(db.pool);
      const [a, b] = await Promise.all([claim(db.pool, req({ limit: 70 })), claim(db.pool, req({ limit: 70 }))]);
      const seen = new Set<string>();
      for (const x of [...a, ...b]) {
        assert.ok(!seen.has(x.id), `round ${round}: delivery ${x.id} claimed twice`);
        seen.add(x.id);
        assert.equal(x.attempt_count, 1);
      }
      const rest = await claim(db.pool, req());
      for (const x of rest) assert.ok(!seen.has(x.id));
      assert.equal(seen.size + rest.length, 100, `round ${round}: every due delivery claimed exactly once`);
    }
  });

  it('per-webhook cap: at most perWebhookCap, minus what is busy; saturated webhooks are skipped, others still served', async () => {
    const w1 = await insertWebhook(db.pool, { pair: ['COURSES', 'CREATE'] });
    for (let i = 0; i < 10; i++) await insertEvent(db.pool, { id: `c${i}` }, ['COURSES', 'CREATE']);

    const capped = await claim(db.pool, req({ perWebhookCap: 3 }));
    assert.equal(capped.length, 3);
    assert.ok(capped.every((x) => x.webhook_id === w1));

    await makeAllDue(db.pool);
    const busy = await claim(db.pool, req({ perWebhookCap: 3, busyWebhooks: [w1], busyCounts: [2] }));
    assert.equal(busy.length, 1, 'two already in flight: one more fits under the cap of 3');

    await makeAllDue(db.pool);
    const w2 = await insertWebhook(db.pool, { pair: ['PROGRAMS', 'CREATE'] });
    await insertEvent(db.pool, { id: 'p1' }, ['PROGRAMS', 'CREATE']);
    const sat = await claim(db.pool, req({ perWebhookCap: 3, busyWebhooks: [w1], busyCounts: [3], saturated: [w1] }));
    assert.deepEqual(
      sat.map((x) => x.webhook_id),
      [w2],
      'the saturated webhook gets nothing; the other is still served',
    );
    const { rows } = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM delivery_queue WHERE webhook_id = $1 AND attempt_count = 0 AND next_attempt_at <= now()`,
      [w1],
    );
    assert.equal(rows[0]!.n, 10, "the saturated webhook's deliveries are untouched");
  });
});

describe("crash recovery end to end: a real worker picks up a dead worker's claim", () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('dlv_recovery_e2e');
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('delivers a delivery whose claim was never finished, once the lease runs out', async () => {
    const path = uniquePath('orphan');
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['USERS', 'CREATE']] });

    // Publish and claim in one transaction, as a worker that then dies: the running
    // worker only ever sees the delivery already leased.
    const { eventId, claimed } = await inTransaction(s.db.pool, async (db) => {
      const id = await insertEvent(db, { id: 'orphan-1' });
      return { eventId: id, claimed: await claim(db, req()) };
    });
    assert.equal(claimed.length, 1);
    const dead = claimed[0]!;
    assert.equal(dead.webhook_id, w.id);
    assert.equal(dead.attempt_count, 1);

    await quiesce(s);
    assert.equal(receivedAt(r, path).length, 0, "not sent while the dead worker's lease holds");
    assert.equal((await deliveryRow(s.db.pool, dead.id)).attempt_count, 1);

    await backdate(s.db.pool, dead.id);
    const m = await eventually(() => receivedAt(r, path)[0], 10_000, 'the orphaned delivery');
    assert.equal(m.headers['webhook-id'], eventId);
    const d = await waitForAttempts(s, dead.id, 1);
    assert.equal(d.status, 'SUCCEEDED');
    assert.equal(d.attemptCount, 2);
    assert.deepEqual(
      d.attempts.map((a) => [a.attemptNumber, a.outcome]),
      [[2, 'SUCCESS']],
      'attempt 1 died unrecorded',
    );

    // The dead worker's late report changes nothing.
    const late = await recordAttempts(s.db.pool, [
      attempt(dead, 1, { outcome: 'TIMEOUT', responseStatus: null, nextStatus: 'PENDING', nextAttemptAt: new Date() }),
    ]);
    assert.equal(late.attempts[0]!.applied, false);
    assert.equal((await getDelivery(s, dead.id)).status, 'SUCCEEDED');
    assert.equal(receivedAt(r, path).length, 1);
  });
});
