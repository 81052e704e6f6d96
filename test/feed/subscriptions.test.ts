import { after, before, describe, it } from 'node:test';
import {
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
  type Collected,
  type FeedClient,
  type StatusChange,
} from '../kit/index.js';
import assert from 'node:assert/strict';

// The live feed as a dashboard sees it: graphql-ws over the API's own port,
// a VIEWER key, attempts and status changes as they happen.

describe('live feed subscriptions', () => {
  let s: TestServer;
  let r: Receiver;
  const clients: FeedClient[] = [];
  let armerToken: string;
  let n = 0;

  const viewer = () => {
    const c = feedClient(s.url, s.keys.VIEWER);
    clients.push(c);
    return c;
  };
  const attempts = (c: FeedClient, vars: { w?: string; e?: string } = {}) =>
    collect<Attempt>(c, ATTEMPTS_SUBSCRIPTION, vars, 'deliveryAttempts');
  const statuses = (c: FeedClient, vars: { w?: string } = {}) =>
    collect<StatusChange>(c, STATUS_SUBSCRIPTION, vars, 'webhookStatusChanged');
  const payload = () => ({ id: `obj-${++n}` });
  const forEvent = (c: Collected<Attempt>, eventId: string) => c.items.filter((a) => a.eventId === eventId);

  /** Pause/resume with a second SUPPORT key, so arming notices ("paused by feed armer") are told apart from the test's own. */
  const armerToggle = async (webhookId: string, paused: boolean) => {
    const m = paused ? 'pauseWebhook' : 'resumeWebhook';
    const res = await s.gql(`mutation($id: ID!) { ${m}(id: $id) { status } }`, { id: webhookId }, armerToken);
    assert.ok(res.data?.[m], JSON.stringify(res));
  };
  /** Toggles the webhook until `ready`, then leaves it ACTIVE and waits until `last` saw it ACTIVE. */
  const armStatus = async (webhookId: string, ready: () => boolean, last: Collected<StatusChange>) => {
    let paused = false;
    await armed(
      `status of ${webhookId}`,
      async () => {
        paused = !paused;
        await armerToggle(webhookId, paused);
      },
      ready,
    );
    if (paused) await armerToggle(webhookId, false);
    await eventually(() => last.items.at(-1)?.status === 'ACTIVE', 10_000, 'the arming resume');
  };

  before(async () => {
    // Failed attempts are retried only after an hour: each failure produces exactly one attempt here.
    s = await startServer('feed_subs', { env: { HOOKLINE_RETRY_SCHEDULE: '1h' } });
    r = await startReceiver();
    r.on('/fail', () => ({ status: 500, body: 'boom' }));
    r.on('/gone', () => ({ status: 410, body: 'gone' }));
    const k = await s.gql(`mutation { createApiKey(name: "feed armer", role: SUPPORT) { token } }`);
    armerToken = k.data!.createApiKey.token;
  });
  after(async () => {
    for (const c of clients) await c.dispose().catch(() => undefined);
    await s.stop();
    await r.close();
  });

  it('a VIEWER subscriber receives the attempt of a published event, exactly as the API records it', async () => {
    const w = (await createWebhook(s, { name: 'ok', url: `${r.url}/ok`, subs: [['USERS', 'CREATE']] })).id;
    const c = viewer();
    const all = attempts(c);
    await armed(
      'unfiltered',
      () => publish(s, 'USERS', 'CREATE', payload()),
      () => all.items.length > 0,
    );
    assert.ok(c.connected, 'the VIEWER key was accepted');

    const eventId = (await publish(s, 'USERS', 'CREATE', payload())).id;
    const [fromFeed] = await eventually(
      () => forEvent(all, eventId).length > 0 && forEvent(all, eventId),
      10_000,
      'the attempt on the feed',
    );
    const [delivery] = await eventually(async () => {
      const ds = await deliveriesOfEvent(s, eventId);
      return ds.length === 1 && ds[0]!.status === 'SUCCEEDED' && ds;
    });
    assert.equal(delivery!.attempts.length, 1);
    assert.deepEqual(fromFeed, feedView(delivery!.attempts[0]!), 'the feed carries the attempt the delivery log holds');
    assert.equal(fromFeed!.deliveryId, delivery!.id);
    assert.equal(fromFeed!.webhookId, w);
    assert.equal(fromFeed!.eventId, eventId);
    assert.equal(fromFeed!.attemptNumber, 1);
    assert.equal(fromFeed!.outcome, 'SUCCESS');
    assert.equal(fromFeed!.responseStatus, 200);
    assert.equal(fromFeed!.errorMessage, null);
    assert.ok(Number.isInteger(fromFeed!.durationMs) && fromFeed!.durationMs >= 0);
    assert.ok(!Number.isNaN(Date.parse(fromFeed!.startedAt)));
    assert.match(fromFeed!.id, /^[0-9a-f-]{36}$/i, 'the attempt id is the stored row id');
    assert.equal(forEvent(all, eventId).length, 1, 'one attempt, announced once');
    assert.deepEqual(all.errors, []);
    assert.deepEqual(all.resultErrors, []);
  });

  it("deliveryAttempts(webhookId) carries only that webhook's attempts", async () => {
    const a = (await createWebhook(s, { name: 'A', url: `${r.url}/a`, subs: [['COURSES', 'CREATE']] })).id;
    const b = (await createWebhook(s, { name: 'B', url: `${r.url}/b`, subs: [['COURSES', 'CREATE']] })).id;
    const all = attempts(viewer());
    const onlyA = attempts(viewer(), { w: a });
    await armed(
      'unfiltered and webhook A',
      () => publish(s, 'COURSES', 'CREATE', payload()),
      () => all.items.some((x) => x.webhookId === b) && onlyA.items.length > 0,
    );

    const e1 = (await publish(s, 'COURSES', 'CREATE', payload())).id;
    await eventually(
      () => {
        const hooks = forEvent(all, e1).map((x) => x.webhookId);
        return hooks.includes(a) && hooks.includes(b);
      },
      10_000,
      "both webhooks' attempts on the unfiltered feed",
    );
    // Published after B's attempt for e1 reached the feed: once the filtered
    // subscriber has this one, it has had every chance to (wrongly) get B's.
    const e2 = (await publish(s, 'COURSES', 'CREATE', payload())).id;
    await eventually(() => forEvent(onlyA, e2).length > 0, 10_000, 'the sentinel on the filtered feed');

    assert.deepEqual(
      onlyA.items.filter((x) => x.webhookId !== a),
      [],
      "no other webhook's attempt",
    );
    assert.equal(forEvent(onlyA, e1).length, 1);
    assert.equal(forEvent(onlyA, e1)[0]!.webhookId, a);
    assert.deepEqual(
      forEvent(onlyA, e1)[0],
      forEvent(all, e1).find((x) => x.webhookId === a),
    );
    assert.deepEqual(onlyA.errors, []);
  });

  it("deliveryAttempts(eventId) carries only that event's attempts, from every webhook; both filters combine", async () => {
    const a = (await createWebhook(s, { name: 'EA', url: `${r.url}/ea`, subs: [['PROGRAMS', 'CREATE']] })).id;
    const b = (await createWebhook(s, { name: 'EB', url: `${r.url}/eb`, subs: [['PROGRAMS', 'CREATE']] })).id;
    const e1 = (await publish(s, 'PROGRAMS', 'CREATE', payload())).id;
    const ds = await eventually(async () => {
      const d = await deliveriesOfEvent(s, e1);
      return d.length === 2 && d.every((x) => x.status === 'SUCCEEDED') && d;
    });
    const toA = ds.find((d) => d.webhook.id === a)!.id;
    const toB = ds.find((d) => d.webhook.id === b)!.id;
    const redeliver = async (deliveryId: string) => {
      const res = await s.gql(`mutation($id: ID!) { redeliver(deliveryId: $id) { id } }`, { id: deliveryId });
      assert.ok(res.data?.redeliver, JSON.stringify(res));
    };

    // The event id exists only after publishing, so the subscriptions are armed with redeliveries of e1.
    const all = attempts(viewer());
    const onlyE1 = attempts(viewer(), { e: e1 });
    const e1AndA = attempts(viewer(), { w: a, e: e1 });
    await armed(
      'event filters',
      () => redeliver(toA),
      () => all.items.length > 0 && onlyE1.items.length > 0 && e1AndA.items.length > 0,
    );

    const e2 = (await publish(s, 'PROGRAMS', 'CREATE', payload())).id;
    await redeliver(toB);
    await eventually(
      () => forEvent(all, e2).length === 2 && all.items.some((x) => x.deliveryId === toB),
      10_000,
      "e2's attempts and e1's redelivery to B on the unfiltered feed",
    );
    const before = onlyE1.items.length;
    await redeliver(toA); // sentinel, after everything above reached the feed
    const sentinel = await eventually(
      () => onlyE1.items.slice(before).find((x) => x.deliveryId === toA),
      10_000,
      'the sentinel on the event feed',
    );
    await eventually(() => e1AndA.items.some((x) => x.id === sentinel.id), 10_000, 'the sentinel on the combined feed');

    assert.deepEqual(
      onlyE1.items.filter((x) => x.eventId !== e1),
      [],
      "no other event's attempt",
    );
    assert.ok(
      onlyE1.items.some((x) => x.webhookId === b),
      'attempts to every webhook of the event',
    );
    assert.deepEqual(
      e1AndA.items.filter((x) => x.eventId !== e1 || x.webhookId !== a),
      [],
      'both filters apply',
    );
    // Once live (it may have missed early arming attempts), the combined feed has every e1 attempt to A and nothing else.
    const toAOnEvent = onlyE1.items.filter((x) => x.webhookId === a).map((x) => x.id);
    const start = toAOnEvent.indexOf(e1AndA.items[0]!.id);
    assert.ok(start >= 0);
    assert.deepEqual(
      e1AndA.items.map((x) => x.id),
      toAOnEvent.slice(start),
    );
    // Redeliveries keep counting attempt numbers.
    const nums = onlyE1.items.filter((x) => x.deliveryId === toA).map((x) => x.attemptNumber);
    assert.deepEqual(
      nums,
      [...nums].sort((p, q) => p - q),
    );
    assert.ok(nums.every((x) => x >= 2));
  });

  it('failed attempts arrive too: a 500 answer is HTTP_ERROR with responseStatus 500', async () => {
    const w = (await createWebhook(s, { name: 'fails', url: `${r.url}/fail`, subs: [['USERS', 'UPDATE']] })).id;
    const feed = attempts(viewer(), { w });
    await armed(
      'failing webhook',
      () => publish(s, 'USERS', 'UPDATE', payload()),
      () => feed.items.length > 0,
    );

    const eventId = (await publish(s, 'USERS', 'UPDATE', payload())).id;
    const [got] = await eventually(
      () => forEvent(feed, eventId).length > 0 && forEvent(feed, eventId),
      10_000,
      'the failed attempt',
    );
    assert.equal(got!.outcome, 'HTTP_ERROR');
    assert.equal(got!.responseStatus, 500);
    assert.equal(got!.attemptNumber, 1);
    assert.equal(got!.webhookId, w);
    const [delivery] = await eventually(async () => {
      const d = await deliveriesOfEvent(s, eventId);
      return d[0]?.attempts.length === 1 && d;
    });
    assert.equal(delivery!.status, 'PENDING', 'retried later (schedule 1h)');
    assert.deepEqual(got, feedView(delivery!.attempts[0]!));
  });

  it('webhookStatusChanged: pause → PAUSED with a reason, resume → ACTIVE; the webhookId filter holds', async () => {
    const w = (await createWebhook(s, { name: 'status', url: `${r.url}/status`, subs: [] })).id;
    const other = (await createWebhook(s, { name: 'other', url: `${r.url}/other`, subs: [] })).id;
    const all = statuses(viewer());
    const onlyW = statuses(viewer(), { w });
    const onlyOther = statuses(viewer(), { w: other });
    await armStatus(w, () => all.items.length > 0 && onlyW.items.length > 0, onlyW);
    await armStatus(other, () => onlyOther.items.length > 0, onlyOther);
    const from = onlyW.items.length;

    const paused = await setPaused(s, w, true);
    assert.equal(paused.status, 'PAUSED');
    assert.ok(paused.statusReason, 'pausing records a reason');
    const seenPaused = await eventually(
      () => onlyW.items.slice(from).find((x) => x.status === 'PAUSED' && x.statusReason === paused.statusReason),
      10_000,
      'PAUSED on the feed',
    );
    assert.equal(seenPaused.id, w);
    assert.match(seenPaused.statusReason!, /test SUPPORT/, 'the reason names who paused it');

    const resumed = await setPaused(s, w, false);
    assert.equal(resumed.status, 'ACTIVE');
    const at = onlyW.items.indexOf(seenPaused);
    const seenActive = await eventually(
      () => onlyW.items.slice(at + 1).find((x) => x.status === 'ACTIVE'),
      10_000,
      'ACTIVE on the feed',
    );
    assert.equal(seenActive.id, w);
    assert.equal(seenActive.statusReason, null, 'resuming clears the reason');

    await eventually(
      () => all.items.some((x) => x.id === w && x.statusReason === paused.statusReason),
      10_000,
      'PAUSED on the unfiltered feed',
    );
    assert.deepEqual(
      onlyW.items.filter((x) => x.id !== w),
      [],
      'only the filtered webhook',
    );
    assert.deepEqual(
      onlyOther.items.filter((x) => x.id !== other),
      [],
      'the other filter never sees this webhook',
    );
    assert.ok(
      all.items.some((x) => x.id === other),
      'the unfiltered feed sees every webhook',
    );
    assert.deepEqual([...all.errors, ...onlyW.errors, ...all.resultErrors, ...onlyW.resultErrors], []);
  });

  it('webhookStatusChanged: a 410 answer disables the webhook, with a reason mentioning 410', async () => {
    const w = (await createWebhook(s, { name: 'gone', url: `${r.url}/gone`, subs: [['USERS', 'DELETE']] })).id;
    const feed = statuses(viewer(), { w });
    await armStatus(w, () => feed.items.length > 0, feed);
    const from = feed.items.length;

    await publish(s, 'USERS', 'DELETE', payload());
    const disabled = await eventually(
      () => feed.items.slice(from).find((x) => x.status === 'DISABLED'),
      10_000,
      'DISABLED on the feed',
    );
    assert.equal(disabled.id, w);
    assert.match(disabled.statusReason ?? '', /410/);
    const api = await s.gql(`query($id: ID!) { webhook(id: $id) { status statusReason } }`, { id: w }, 'VIEWER');
    assert.deepEqual(api.data?.webhook, { status: 'DISABLED', statusReason: disabled.statusReason });
    assert.equal(feed.items.slice(from).filter((x) => x.status === 'DISABLED').length, 1, 'announced once');
  });
});
