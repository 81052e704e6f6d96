import { after, before, describe, it } from 'node:test';
import {
  startServer,
  eventually,
  codes,
  type TestServer,
  startReceiver,
  type Receiver,
  quiesce,
  createWebhook,
  publish,
  publishRaw,
  receivedAt,
  uniquePath,
} from '../kit/index.js';
import assert from 'node:assert/strict';

// Which webhooks get an event (subscriptions, fan-out), publishing exactly once
// per idempotency key, and what publishEvent refuses.

async function tableCounts(s: TestServer): Promise<{ events: number; deliveries: number }> {
  const { rows } = await s.db.pool.query<{ events: number; deliveries: number }>(
    'SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM deliveries) AS deliveries',
  );
  return rows[0]!;
}

async function waitSettled(s: TestServer, eventId: string, n: number): Promise<void> {
  await eventually(
    async () => {
      const { rows } = await s.db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM deliveries WHERE event_id = $1 AND status = 'SUCCEEDED'`,
        [eventId],
      );
      return rows[0]!.n === n;
    },
    15_000,
    `${n} deliveries of ${eventId} to succeed`,
  );
}

describe('delivery: subscriptions, fan-out, idempotency, validation', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('dlv_fanout', { env: { HOOKLINE_MAX_PAYLOAD_BYTES: '2048', HOOKLINE_RETRY_SCHEDULE: '1h' } });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('sends an event only to webhooks subscribed to its resource and action', async () => {
    const upd = uniquePath('users-update');
    const crt = uniquePath('users-create');
    const u = await createWebhook(s, { url: `${r.url}${upd}`, subs: [['USERS', 'UPDATE']] });
    const c = await createWebhook(s, { url: `${r.url}${crt}`, subs: [['USERS', 'CREATE']] });

    const created = await publish(s, 'USERS', 'CREATE', { id: 'u-1' });
    assert.ok(created.deliveries.some((d) => d.webhook.id === c.id));
    assert.ok(!created.deliveries.some((d) => d.webhook.id === u.id), 'no delivery row for the USERS/UPDATE webhook');
    await eventually(() => receivedAt(r, crt).length === 1, 10_000, 'the user.created delivery');

    const updated = await publish(s, 'USERS', 'UPDATE', { id: 'u-1', first_name: 'New' });
    assert.deepEqual(
      updated.deliveries.map((d) => d.webhook.id),
      [u.id],
    );
    await eventually(() => receivedAt(r, upd).length === 1, 10_000, 'the user.updated delivery');
    await quiesce(s);

    const got = receivedAt(r, upd);
    assert.equal(got.length, 1, 'the USERS/UPDATE webhook received only the update');
    assert.equal(got[0]!.headers['webhook-id'], updated.id);
    assert.equal(JSON.parse(got[0]!.body).type, 'user.updated');
    assert.equal(receivedAt(r, crt).length, 1, 'the USERS/CREATE webhook did not get the update');
    const { rows } = await s.db.pool.query('SELECT count(*)::int AS n FROM deliveries WHERE webhook_id = $1', [u.id]);
    assert.equal(rows[0].n, 1);
  });

  it('fans one event out to 30 subscribed webhooks, each exactly once', async () => {
    const paths: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const p = uniquePath(`fan${i}`);
      paths.push(p);
      ids.push((await createWebhook(s, { url: `${r.url}${p}`, subs: [['COURSES', 'CREATE']], name: `fan ${i}` })).id);
    }
    const ev = await publish(s, 'COURSES', 'CREATE', { id: 'course-30', title: 'Fan-out' });
    assert.equal(ev.type, 'course.created');
    assert.equal(ev.deliveries.length, 30);
    assert.deepEqual(ev.deliveries.map((d) => d.webhook.id).sort(), [...ids].sort());
    assert.equal(new Set(ev.deliveries.map((d) => d.id)).size, 30);

    await waitSettled(s, ev.id, 30);
    for (const p of paths) {
      const got = receivedAt(r, p);
      assert.equal(got.length, 1, `${p} received ${got.length} requests`);
      assert.equal(got[0]!.headers['webhook-id'], ev.id);
      assert.equal(JSON.parse(got[0]!.body).data.title, 'Fan-out');
    }
    const { rows } = await s.db.pool.query('SELECT count(*)::int AS n FROM delivery_attempts WHERE event_id = $1', [
      ev.id,
    ]);
    assert.equal(rows[0].n, 30, 'one attempt per webhook');
  });

  it('names an ENROLLMENTS/COMPLETE event enrollment.completed', async () => {
    const p = uniquePath('completed');
    await createWebhook(s, { url: `${r.url}${p}`, subs: [['ENROLLMENTS', 'COMPLETE']] });
    const payload = { id: '42', state: 'complete', progress: 1, score: 97, completed_at: '2026-11-29T04:00:00Z' };
    const ev = await publish(s, 'ENROLLMENTS', 'COMPLETE', payload);
    assert.equal(ev.type, 'enrollment.completed');
    const m = await eventually(() => receivedAt(r, p)[0], 10_000, 'the delivery');
    const body = JSON.parse(m.body);
    assert.equal(body.type, 'enrollment.completed');
    assert.deepEqual(body.data, payload);
  });

  it('publishes once for 20 concurrent publishEvent calls with the same idempotency key', async () => {
    const p1 = uniquePath('idem-a');
    const p2 = uniquePath('idem-b');
    await createWebhook(s, { url: `${r.url}${p1}`, subs: [['PROGRAMS', 'CREATE']] });
    await createWebhook(s, { url: `${r.url}${p2}`, subs: [['PROGRAMS', 'CREATE']] });
    const key = `idem-${Date.now()}-${Math.random()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        publishRaw(s, { resource: 'PROGRAMS', action: 'CREATE', payload: { id: 'prog-1' }, idempotencyKey: key }),
      ),
    );
    for (const res of results) assert.ok(res.data?.publishEvent.id, JSON.stringify(res));
    const ids = new Set(results.map((res) => res.data!.publishEvent.id));
    assert.equal(ids.size, 1, `every call returns the same event: ${[...ids].join(', ')}`);
    const eventId = [...ids][0]!;
    for (const res of results) assert.equal(res.data!.publishEvent.deliveries.length, 2);

    const ev = await s.db.pool.query('SELECT id FROM events WHERE idempotency_key = $1', [key]);
    assert.deepEqual(
      ev.rows.map((x) => x.id),
      [eventId],
    );
    const dl = await s.db.pool.query('SELECT count(*)::int AS n FROM deliveries WHERE event_id = $1', [eventId]);
    assert.equal(dl.rows[0].n, 2, 'one delivery per subscribed webhook');

    await waitSettled(s, eventId, 2);
    // A later repeat with another payload returns the first event and sends nothing new.
    const again = await publish(s, 'PROGRAMS', 'CREATE', { id: 'prog-2' }, { idempotencyKey: key });
    assert.equal(again.id, eventId);
    assert.deepEqual(again.payload, { id: 'prog-1' });
    await quiesce(s);
    for (const p of [p1, p2]) {
      const got = receivedAt(r, p);
      assert.equal(got.length, 1, `${p} received the event ${got.length} times`);
      assert.equal(got[0]!.headers['webhook-id'], eventId);
    }
    const after = await s.db.pool.query('SELECT count(*)::int AS n FROM events WHERE idempotency_key = $1', [key]);
    assert.equal(after.rows[0].n, 1);
  });

  it('refuses invalid events with BAD_USER_INPUT naming the field, storing nothing', async () => {
    // Subscribers exist for every pair used, so a stored event would also create deliveries.
    const v = await createWebhook(s, {
      url: `${r.url}${uniquePath('validation')}`,
      subs: [
        ['LIVE_TRAININGS', 'CREATE'],
        ['ENROLLMENTS', 'UPDATE'],
        ['USERS', 'DELETE'],
      ],
    });
    const before = await tableCounts(s);
    const cases: { name: string; input: Record<string, unknown>; field: RegExp; message: RegExp }[] = [
      {
        name: 'payload without id',
        input: { resource: 'LIVE_TRAININGS', action: 'CREATE', payload: { title: 'x' } },
        field: /^input\.payload$/,
        message: /id/,
      },
      {
        name: 'id of the wrong type',
        input: { resource: 'LIVE_TRAININGS', action: 'CREATE', payload: { id: true } },
        field: /^input\.payload\.id$/,
        message: /./,
      },
      {
        name: 'progress out of range',
        input: { resource: 'ENROLLMENTS', action: 'UPDATE', payload: { id: '1', progress: 2 } },
        field: /^input\.payload\.progress$/,
        message: /./,
      },
      {
        name: 'USERS/COMPLETE',
        input: { resource: 'USERS', action: 'COMPLETE', payload: { id: '1' } },
        field: /^input(\.action)?$/,
        message: /COMPLETE/,
      },
      {
        name: 'payload over HOOKLINE_MAX_PAYLOAD_BYTES',
        input: { resource: 'USERS', action: 'DELETE', payload: { id: '1', bio: 'x'.repeat(2990) } },
        field: /^input\.payload$/,
        message: /2048/,
      },
    ];
    for (const c of cases) {
      const res = await publishRaw(s, c.input);
      assert.deepEqual(codes(res), ['BAD_USER_INPUT'], `${c.name}: ${JSON.stringify(res)}`);
      const err = res.errors![0]!;
      assert.match(String(err.extensions?.field), c.field, `${c.name}: field ${err.extensions?.field}`);
      assert.match(err.message, c.message, `${c.name}: ${err.message}`);
    }
    assert.deepEqual(await tableCounts(s), before, 'no event or delivery was stored');

    // The limit is inclusive: a payload of exactly 2048 bytes is accepted.
    const base = { id: '1', bio: '' };
    const exact = { ...base, bio: 'y'.repeat(2048 - Buffer.byteLength(JSON.stringify(base))) };
    assert.equal(Buffer.byteLength(JSON.stringify(exact)), 2048);
    const ok = await publish(s, 'USERS', 'DELETE', exact);
    assert.ok(ok.deliveries.some((d) => d.webhook.id === v.id));
  });

  it('refuses a payload string with a NUL character as bad input, not as an internal error', async () => {
    const before = await tableCounts(s);
    const res = await publishRaw(s, { resource: 'USERS', action: 'DELETE', payload: { id: '1', bio: 'a\u0000b' } });
    if (res.errors?.length) {
      // PostgreSQL jsonb cannot store \u0000: that must surface as the caller's mistake.
      assert.deepEqual(codes(res), ['BAD_USER_INPUT'], JSON.stringify(res));
      assert.match(String(res.errors[0]!.extensions?.field), /^input\.payload/);
      assert.deepEqual(await tableCounts(s), before);
    } else {
      assert.ok(res.data?.publishEvent.id);
    }
  });

  it('lets PUBLISHER and SUPPORT keys publish; VIEWER is FORBIDDEN and no key is UNAUTHENTICATED', async () => {
    const p = uniquePath('roles');
    await createWebhook(s, { url: `${r.url}${p}`, subs: [['LIVE_TRAINING_REGISTRATIONS', 'CREATE']] });
    const input = { resource: 'LIVE_TRAINING_REGISTRATIONS', action: 'CREATE', payload: { id: 'reg-1' } };

    const before = await tableCounts(s);
    const viewer = await publishRaw(s, input, 'VIEWER');
    assert.deepEqual(codes(viewer), ['FORBIDDEN'], JSON.stringify(viewer));
    const anon = await publishRaw(s, input, null);
    assert.deepEqual(codes(anon), ['UNAUTHENTICATED'], JSON.stringify(anon));
    assert.deepEqual(await tableCounts(s), before, 'refused publishes store nothing');

    const pub = await publishRaw(s, input, 'PUBLISHER');
    assert.ok(pub.data?.publishEvent.id, JSON.stringify(pub));
    assert.equal(pub.data.publishEvent.type, 'live_training_registration.created');
    const sup = await publishRaw(s, { ...input, payload: { id: 'reg-2' } }, 'SUPPORT');
    assert.ok(sup.data?.publishEvent.id, JSON.stringify(sup));
    await eventually(() => receivedAt(r, p).length === 2, 10_000, 'both events delivered');
    assert.deepEqual(
      receivedAt(r, p)
        .map((m) => m.headers['webhook-id'])
        .sort(),
      [pub.data.publishEvent.id, sup.data!.publishEvent.id].sort(),
    );
  });
});
