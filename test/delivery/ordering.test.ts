import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createWebhook,
  eventually,
  freshDatabase,
  insertKeys,
  must,
  publish,
  spawnServer,
  startReceiver,
  startServer,
  uniquePath,
  type Api,
  type Received,
  type Receiver,
  type ServerProcess,
  type TestServer,
} from '../kit/index.js';

// Ordered delivery per object (PER_OBJECT): a receiver fails object A's first
// event at least twice and until all of object B's events have arrived; A's
// later events must arrive only after it succeeded, in publish order. Were B
// held back by A, B would never finish first and A's event would run out of
// retries. The same with two worker processes claiming from one queue.

const RETRY = { HOOKLINE_RETRY_SCHEDULE: Array(12).fill('300ms').join(',') };

interface Arrival {
  object: string;
  n: number;
  ok: boolean;
}

/**
 * A receiver path that fails A's first event twice (and, given `untilB`, then
 * until B's event number `untilB` has arrived); the rest get 200 after a little while.
 */
function orderedDestination(r: Receiver, path: string, untilB?: number): Arrival[] {
  const arrivals: Arrival[] = [];
  let failuresLeft = 2;
  r.on(path, (req: Received) => {
    const data = (JSON.parse(req.body) as { data: { id: string; n: number } }).data;
    const bDone = untilB === undefined || arrivals.some((x) => x.object === 'B' && x.n === untilB);
    const fail = data.id === 'A' && data.n === 1 && (failuresLeft > 0 || !bDone);
    if (fail) failuresLeft--;
    arrivals.push({ object: data.id, n: data.n, ok: !fail });
    return fail ? { status: 500 } : { status: 200, delayMs: 10 };
  });
  return arrivals;
}

async function scenario(api: Api, r: Receiver): Promise<void> {
  const path = uniquePath('ordered');
  const arrivals = orderedDestination(r, path, 4);
  await createWebhook(api, { url: `${r.url}${path}`, subs: [['ENROLLMENTS', 'UPDATE']], ordering: 'PER_OBJECT' });
  // One after the other: each publish answered before the next begins (publish order).
  for (let n = 1; n <= 4; n++) await publish(api, 'ENROLLMENTS', 'UPDATE', { id: 'A', n });
  for (let n = 1; n <= 4; n++) await publish(api, 'ENROLLMENTS', 'UPDATE', { id: 'B', n });
  await eventually(() => arrivals.filter((a) => a.ok).length === 8, 20_000, 'all 8 events delivered');

  const a = arrivals.filter((x) => x.object === 'A');
  const failures = a.filter((x) => !x.ok).length;
  assert.ok(failures >= 2, JSON.stringify(arrivals));
  assert.deepEqual(
    a.map((x) => `${x.n}${x.ok ? '' : '✗'}`),
    [...Array<string>(failures).fill('1✗'), '1', '2', '3', '4'],
    "A's first event is retried until it succeeds, and only then come A's later events, in publish order",
  );
  const b = arrivals.filter((x) => x.object === 'B');
  assert.deepEqual(
    b.map((x) => x.n),
    [1, 2, 3, 4],
    "B's events in publish order",
  );
  const aDone = arrivals.findIndex((x) => x.object === 'A' && x.n === 1 && x.ok);
  const bDone = arrivals.findIndex((x) => x.object === 'B' && x.n === 4);
  assert.ok(bDone < aDone, `B is not held back by A's failing event (${JSON.stringify(arrivals)})`);
}

describe('PER_OBJECT ordering', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('ordering', { env: RETRY });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it("holds back only the failing object's later events, and delivers them in publish order", async () => {
    await scenario(s, r);
  });

  it('one at a time per object: a chain of 30 events about one object never overlaps, and arrives in order', async () => {
    const path = uniquePath('chain');
    let inFlight = 0;
    let overlapped = 0;
    const seen: number[] = [];
    r.on(path, (req) => {
      inFlight++;
      if (inFlight > 1) overlapped++;
      seen.push((JSON.parse(req.body) as { data: { n: number } }).data.n);
      setTimeout(() => inFlight--, 15);
      return { status: 200, delayMs: 15 };
    });
    await createWebhook(s, { url: `${r.url}${path}`, subs: [['COURSES', 'UPDATE']], ordering: 'PER_OBJECT' });
    // Published faster than delivered: most wait, held, behind the one before them.
    for (let n = 1; n <= 30; n++) await publish(s, 'COURSES', 'UPDATE', { id: 'c-1', n });
    await eventually(() => seen.length === 30, 20_000, '30 deliveries');
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    assert.equal(overlapped, 0, 'never two requests about the object at once');
  });

  it('NONE (the default) keeps nothing back: a failing event does not delay the next one about its object', async () => {
    const path = uniquePath('none');
    const arrivals = orderedDestination(r, path);
    await createWebhook(s, { url: `${r.url}${path}`, subs: [['ENROLLMENTS', 'DELETE']] });
    await publish(s, 'ENROLLMENTS', 'DELETE', { id: 'A', n: 1 });
    await publish(s, 'ENROLLMENTS', 'DELETE', { id: 'A', n: 2 });
    await eventually(() => arrivals.filter((a) => a.ok).length === 2, 10_000, 'both delivered');
    const a2 = arrivals.findIndex((x) => x.n === 2);
    const a1ok = arrivals.findIndex((x) => x.n === 1 && x.ok);
    assert.ok(a2 < a1ok, `the second event arrived before the first succeeded: ${JSON.stringify(arrivals)}`);
  });

  it('switching NONE → PER_OBJECT orders the deliveries not yet started; switching back releases them', async () => {
    const path = uniquePath('switch');
    const arrivals = orderedDestination(r, path);
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['ENROLLMENTS', 'CREATE']] });
    await s.gql('mutation($id: ID!) { pauseWebhook(id: $id) { id } }', { id: w.id });
    for (let n = 1; n <= 3; n++) await publish(s, 'ENROLLMENTS', 'CREATE', { id: 'A', n });
    const set = async (ordering: string) =>
      must(
        await s.gql(
          'mutation($id: ID!, $o: DeliveryOrdering!) { updateWebhook(id: $id, input: {ordering: $o}) { ordering } }',
          {
            id: w.id,
            o: ordering,
          },
        ),
        'updateWebhook',
      ).updateWebhook.ordering as string;
    assert.equal(await set('PER_OBJECT'), 'PER_OBJECT');
    const { rows } = await s.db.pool.query(
      `SELECT object_key, seq IS NOT NULL AS seq FROM delivery_queue WHERE webhook_id = $1 ORDER BY seq`,
      [w.id],
    );
    assert.deepEqual(rows, Array(3).fill({ object_key: 'ENROLLMENTS:A', seq: true }));
    await s.gql('mutation($id: ID!) { resumeWebhook(id: $id) { id } }', { id: w.id });
    await eventually(() => arrivals.filter((a) => a.ok).length === 3, 10_000, 'all 3 delivered');
    assert.deepEqual(
      arrivals.map((x) => `${x.n}${x.ok ? '' : '✗'}`),
      ['1✗', '1✗', '1', '2', '3'],
    );

    assert.equal(await set('NONE'), 'NONE');
    const after = await s.db.pool.query(
      `SELECT count(*)::int AS n FROM delivery_queue WHERE webhook_id = $1 AND object_key IS NOT NULL`,
      [w.id],
    );
    assert.equal(after.rows[0].n, 0);
    const audit = await s.db.pool.query(
      `SELECT changes FROM audit_log WHERE target_id = $1 AND action = 'webhook.updated' ORDER BY at`,
      [w.id],
    );
    assert.deepEqual(
      audit.rows.map((x) => x.changes.ordering),
      [
        { old: 'NONE', new: 'PER_OBJECT' },
        { old: 'PER_OBJECT', new: 'NONE' },
      ],
    );
  });

  it('a crash between a finish and its release leaves no delivery held for ever: maintenance releases it', async () => {
    const path = uniquePath('orphan');
    const w = await createWebhook(s, {
      url: `${r.url}${path}`,
      subs: [['PROGRAMS', 'UPDATE']],
      ordering: 'PER_OBJECT',
    });
    await s.gql('mutation($id: ID!) { pauseWebhook(id: $id) { id } }', { id: w.id });
    await publish(s, 'PROGRAMS', 'UPDATE', { id: 'p', n: 1 });
    await publish(s, 'PROGRAMS', 'UPDATE', { id: 'p', n: 2 });
    const held = await s.db.pool.query(`SELECT held FROM delivery_queue WHERE webhook_id = $1 ORDER BY seq`, [w.id]);
    assert.deepEqual(
      held.rows.map((x) => x.held),
      [false, true],
      'the second waits behind the first',
    );
    // The first finishes without its release (as if the worker died between the two statements).
    await s.db.pool.query(
      `DELETE FROM delivery_queue WHERE delivery_id = (SELECT delivery_id FROM delivery_queue WHERE webhook_id = $1 ORDER BY seq LIMIT 1)`,
      [w.id],
    );
    const report = await s.hookline.maintenance!.runNow();
    assert.equal(report.heldReleased, 1);
    await s.gql('mutation($id: ID!) { resumeWebhook(id: $id) { id } }', { id: w.id });
    await eventually(() => r.received.some((x) => x.path === path), 10_000, 'the released delivery');
  });
});

describe('PER_OBJECT ordering with two worker processes', () => {
  let procs: ServerProcess[] = [];
  let r: Receiver;
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await r?.close();
  });

  it('holds for claims racing from two processes on one queue', async () => {
    const db = await freshDatabase('ordering_workers');
    const keys = await insertKeys(db);
    r = await startReceiver();
    const api = await spawnServer(db, { keys, env: { HOOKLINE_WORKER: 'false' } });
    const workers = [0, 1].map(() => spawnServer(db, { keys, kind: 'worker', env: RETRY }));
    procs = [api, ...(await Promise.all(workers))];
    await Promise.all(procs.map((p) => p.ready()));
    try {
      await scenario(api, r);
    } finally {
      await db.close();
    }
  });
});
