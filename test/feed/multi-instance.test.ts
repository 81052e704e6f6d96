import { after, before, describe, it } from 'node:test';
import {
  freshDatabase,
  insertKeys,
  type TestDatabase,
  startServer,
  eventually,
  type TestServer,
  startReceiver,
  type Receiver,
  ATTEMPTS_SUBSCRIPTION,
  STATUS_SUBSCRIPTION,
  armed,
  collect,
  createWebhook,
  deliveriesOfEvent,
  feedClient,
  feedView,
  publish,
  setPaused,
  type Attempt,
  type FeedClient,
  type StatusChange,
} from '../kit/index.js';
import assert from 'node:assert/strict';

// Two instances on one database: A serves the API without a worker, B runs
// the worker. The live feed crosses instances through LISTEN/NOTIFY, so a
// dashboard connected to either sees everything.

describe('live feed across instances', () => {
  let db: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  let r: Receiver;
  const clients: FeedClient[] = [];
  const viewerOn = (s: TestServer) => {
    const c = feedClient(s.url, s.keys.VIEWER);
    clients.push(c);
    return c;
  };
  let n = 0;

  before(async () => {
    db = await freshDatabase('feed_multi');
    const keys = await insertKeys(db);
    a = await startServer('feed_multi_a', { env: { HOOKLINE_WORKER: 'false' }, db, keys });
    b = await startServer('feed_multi_b', { db, keys });
    r = await startReceiver();
    assert.equal(a.hookline.worker, null, 'A runs no worker');
    assert.ok(b.hookline.worker, 'B runs the worker');
  });
  after(async () => {
    for (const c of clients) await c.dispose().catch(() => undefined);
    await a?.stop();
    await b?.stop();
    await r?.close();
    await db?.close();
  });

  it("a subscriber on A (no worker) receives the attempt B's worker made for an event published through A", async () => {
    const w = (await createWebhook(a, { name: 'cross', url: `${r.url}/cross`, subs: [['USERS', 'CREATE']] })).id;
    const onA = collect<Attempt>(viewerOn(a), ATTEMPTS_SUBSCRIPTION, { w }, 'deliveryAttempts');
    const onB = collect<Attempt>(viewerOn(b), ATTEMPTS_SUBSCRIPTION, { w }, 'deliveryAttempts');
    await armed(
      'subscribers on A and B',
      () => publish(a, 'USERS', 'CREATE', { id: `m-${++n}` }),
      () => onA.items.length > 0 && onB.items.length > 0,
    );

    const received = r.received.length;
    const eventId = (await publish(a, 'USERS', 'CREATE', { id: `m-${++n}` })).id;
    const [fromA] = await eventually(
      () => {
        const got = onA.items.filter((x) => x.eventId === eventId);
        return got.length > 0 && got;
      },
      10_000,
      "the attempt on A's feed",
    );
    await eventually(() => onB.items.some((x) => x.eventId === eventId), 10_000, "the attempt on B's feed");

    const [delivery] = await eventually(async () => {
      const ds = await deliveriesOfEvent(a, eventId);
      return ds[0]?.status === 'SUCCEEDED' && ds;
    });
    assert.equal(fromA!.outcome, 'SUCCESS');
    assert.equal(fromA!.webhookId, w);
    assert.deepEqual(fromA, feedView(delivery!.attempts[0]!), "A's feed carries the attempt B recorded");
    assert.deepEqual(
      onB.items.find((x) => x.eventId === eventId),
      fromA,
      'both instances announce the same attempt',
    );
    // Sent once, announced once on each instance.
    assert.equal(r.received.filter((x) => x.headers['webhook-id'] === eventId).length, 1);
    assert.ok(r.received.length > received);
    assert.equal(onA.items.filter((x) => x.eventId === eventId).length, 1);
    assert.equal(onB.items.filter((x) => x.eventId === eventId).length, 1);
  });

  it('a subscriber on B sees webhookStatusChanged when A pauses and resumes the webhook', async () => {
    const w = (await createWebhook(a, { name: 'status-cross', url: `${r.url}/sc`, subs: [] })).id;
    const onB = collect<StatusChange>(viewerOn(b), STATUS_SUBSCRIPTION, { w }, 'webhookStatusChanged');
    const onA = collect<StatusChange>(viewerOn(a), STATUS_SUBSCRIPTION, { w }, 'webhookStatusChanged');
    // Armed through B's API, so the notices the test waits for below can only come from A.
    let paused = false;
    await armed(
      'status subscribers on A and B',
      async () => {
        paused = !paused;
        await setPaused(b, w, paused);
      },
      () => onA.items.length > 0 && onB.items.length > 0,
    );
    if (paused) await setPaused(b, w, false);
    await eventually(
      () => onB.items.at(-1)?.status === 'ACTIVE' && onA.items.at(-1)?.status === 'ACTIVE',
      10_000,
      'the arming resume',
    );
    const fromB = onB.items.length;
    const fromA = onA.items.length;

    const p = await setPaused(a, w, true);
    assert.equal(p.status, 'PAUSED');
    const seen = await eventually(
      () => onB.items.slice(fromB).find((x) => x.status === 'PAUSED'),
      10_000,
      "PAUSED on B's feed",
    );
    assert.deepEqual(seen, { id: w, status: 'PAUSED', statusReason: p.statusReason });
    await eventually(() => onA.items.slice(fromA).some((x) => x.status === 'PAUSED'), 10_000, "PAUSED on A's own feed");

    await setPaused(a, w, false);
    const at = onB.items.indexOf(seen);
    const active = await eventually(
      () => onB.items.slice(at + 1).find((x) => x.status === 'ACTIVE'),
      10_000,
      "ACTIVE on B's feed",
    );
    assert.deepEqual(active, { id: w, status: 'ACTIVE', statusReason: null });
    assert.deepEqual(
      onB.items.filter((x) => x.id !== w),
      [],
    );
  });
});
