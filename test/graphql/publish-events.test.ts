import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createWebhook,
  eventually,
  must,
  publish,
  startReceiver,
  startServer,
  uniquePath,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// publishEvents: a batch in one request and one transaction, results in input
// order, per-event idempotency, and a batch refused whole (naming inputs[i])
// when any event is invalid.

const PUBLISH_MANY = `mutation($inputs: [PublishEventInput!]!) {
  publishEvents(inputs: $inputs) { id type idempotencyKey payload deliveries { webhook { id } } }
}`;

interface Published {
  id: string;
  type: string;
  idempotencyKey: string | null;
  payload: { id: string };
  deliveries: { webhook: { id: string } }[];
}

describe('publishEvents', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('publish_events');
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  const many = (inputs: unknown[]) => s.gql<{ publishEvents: Published[] }>(PUBLISH_MANY, { inputs }, 'PUBLISHER');
  const events = async () => (await s.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n as number;

  it('stores a batch, answers in input order, and fans every event out', async () => {
    const path = uniquePath('batch');
    const w = await createWebhook(s, {
      url: `${r.url}${path}`,
      subs: [
        ['USERS', 'CREATE'],
        ['COURSES', 'UPDATE'],
      ],
    });
    const inputs = [
      { resource: 'USERS', action: 'CREATE', payload: { id: 'b1' } },
      { resource: 'COURSES', action: 'UPDATE', payload: { id: 'b2', title: 'Safety' } },
      { resource: 'USERS', action: 'CREATE', payload: { id: 'b3' } },
      { resource: 'USERS', action: 'DELETE', payload: { id: 'b4' } },
    ];
    const out = must(await many(inputs), 'publishEvents').publishEvents;
    assert.deepEqual(
      out.map((e) => [e.type, e.payload.id]),
      [
        ['user.created', 'b1'],
        ['course.updated', 'b2'],
        ['user.created', 'b3'],
        ['user.deleted', 'b4'],
      ],
    );
    assert.deepEqual(
      out.map((e) => e.deliveries.map((d) => d.webhook.id)),
      [[w.id], [w.id], [w.id], []],
    );
    await eventually(() => r.received.filter((x) => x.path === path).length === 3, 10_000, 'three deliveries');
    assert.deepEqual(
      r.received
        .filter((x) => x.path === path)
        .map((x) => x.headers['webhook-id'])
        .sort(),
      [out[0]!.id, out[1]!.id, out[2]!.id].sort(),
    );
  });

  it('one invalid event refuses the whole batch, naming it, and stores nothing', async () => {
    const before = await events();
    const res = await many([
      { resource: 'ENROLLMENTS', action: 'UPDATE', payload: { id: 'ok' } },
      { resource: 'ENROLLMENTS', action: 'UPDATE', payload: { id: 'bad', score: 140 } },
    ]);
    assert.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal(
      res.errors?.[0]?.message,
      'inputs[1].payload.score: must be <= 100 (enrollment.updated carries a Enrollment object)',
    );
    const wrongPair = await many([{ resource: 'USERS', action: 'COMPLETE', payload: { id: 'x' } }]);
    assert.match(wrongPair.errors?.[0]?.message ?? '', /^inputs\[0\]: USERS has no COMPLETE event/);
    assert.equal(await events(), before);
  });

  it('idempotency keys apply per event: taken before, or repeated within the batch, they answer with the first event', async () => {
    const earlier = await publish(s, 'PROGRAMS', 'CREATE', { id: 'p0' }, { idempotencyKey: 'key-earlier' });
    const before = await events();
    const out = must(
      await many([
        { resource: 'PROGRAMS', action: 'CREATE', payload: { id: 'p1' }, idempotencyKey: 'key-earlier' },
        { resource: 'PROGRAMS', action: 'CREATE', payload: { id: 'p2' }, idempotencyKey: 'key-new' },
        { resource: 'PROGRAMS', action: 'CREATE', payload: { id: 'p3' }, idempotencyKey: 'key-new' },
        { resource: 'PROGRAMS', action: 'CREATE', payload: { id: 'p4' } },
      ]),
      'publishEvents',
    ).publishEvents;
    assert.equal(out[0]!.id, earlier.id);
    assert.equal(out[0]!.payload.id, 'p0', 'the first event, as stored');
    assert.equal(out[1]!.id, out[2]!.id, 'a key repeated in the batch is one event');
    assert.equal(out[2]!.payload.id, 'p2');
    assert.equal(await events(), before + 2, 'key-new once, and the event without a key');
  });

  it('takes 1 to 1,000 events', async () => {
    const none = await many([]);
    assert.equal(none.errors?.[0]?.message, 'inputs: expected 1 to 1000 events, got 0');
    const tooMany = await many(
      Array.from({ length: 1001 }, (_, i) => ({ resource: 'USERS', action: 'UPDATE', payload: { id: `m${i}` } })),
    );
    assert.equal(tooMany.errors?.[0]?.message, 'inputs: expected 1 to 1000 events, got 1001');
    const full = must(
      await many(
        Array.from({ length: 1000 }, (_, i) => ({ resource: 'USERS', action: 'UPDATE', payload: { id: `k${i}` } })),
      ),
      'publishEvents',
    ).publishEvents;
    assert.equal(full.length, 1000);
    assert.deepEqual(
      full.slice(0, 3).map((e) => e.payload.id),
      ['k0', 'k1', 'k2'],
    );
  });
});
