import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { REPLAY_BATCH } from '../../src/services/replays.js';
import {
  createWebhook,
  deliveryFor,
  eventually,
  must,
  publish,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  type GqlResult,
  type PublishedEvent,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// replayDeliveries: each scope's dry run and real run agree; a backfill to a
// webhook created after the events delivers exactly the matching ones; replays
// are queued in batches and spread in time; the window is bounded by retention.

const REPLAY = `mutation($id: ID!, $since: DateTimeISO!, $until: DateTimeISO, $scope: ReplayScope, $dry: Boolean) {
  replayDeliveries(webhookId: $id, since: $since, until: $until, scope: $scope, dryRun: $dry) { count dryRun }
}`;

describe('replayDeliveries', () => {
  let s: TestServer;
  let r: Receiver;
  const since = () => new Date(Date.now() - 3_600_000).toISOString();

  before(async () => {
    // One retry 50 ms after the first attempt: a failing delivery is FAILED within moments.
    s = await startServer('replay', { env: { HOOKLINE_RETRY_SCHEDULE: '50ms', HOOKLINE_REPLAY_RATE: '1000' } });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  const replay = (id: string, scope: string, dry: boolean, extra: Record<string, unknown> = {}) =>
    s.gql<{ replayDeliveries: { count: number; dryRun: boolean } }>(REPLAY, {
      id,
      since: since(),
      scope,
      dry,
      ...extra,
    });
  const count = async (id: string, scope: string, dry: boolean) => {
    const res = must(await replay(id, scope, dry), 'replayDeliveries').replayDeliveries;
    assert.equal(res.dryRun, dry);
    return res.count;
  };
  const statuses = async (webhookId: string) =>
    (
      await s.db.pool.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM deliveries WHERE webhook_id = $1 GROUP BY status ORDER BY status`,
        [webhookId],
      )
    ).rows.reduce<Record<string, number>>((acc, x) => ({ ...acc, [x.status]: x.n }), {});

  it('FAILED, UNDELIVERED and ALL: the dry run counts what the real run queues, and the real run sends exactly that', async () => {
    const path = uniquePath('replay');
    let failing = true;
    r.on(path, () => (failing ? { status: 503 } : { status: 200 }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['USERS', 'UPDATE']] });
    const failed: PublishedEvent[] = [];
    for (let i = 0; i < 3; i++) failed.push(await publish(s, 'USERS', 'UPDATE', { id: `f${i}` }));
    for (const ev of failed) await waitForAttempts(s, deliveryFor(ev, w.id), 2);
    failing = false;
    const ok = await publish(s, 'USERS', 'UPDATE', { id: 'ok' });
    await waitForAttempts(s, deliveryFor(ok, w.id), 1);
    assert.deepEqual(await statuses(w.id), { FAILED: 3, SUCCEEDED: 1 });

    assert.equal(await count(w.id, 'FAILED', true), 3);
    assert.equal(await count(w.id, 'UNDELIVERED', true), 3);
    assert.equal(await count(w.id, 'ALL', true), 4);
    assert.deepEqual(await statuses(w.id), { FAILED: 3, SUCCEEDED: 1 }, 'dry runs change nothing');

    const before = r.received.filter((x) => x.path === path).length;
    assert.equal(await count(w.id, 'FAILED', false), 3);
    await eventually(async () => (await statuses(w.id)).SUCCEEDED === 4, 10_000, 'the replayed deliveries');
    const sent = r.received.filter((x) => x.path === path).slice(before);
    assert.deepEqual(
      sent.map((x) => x.headers['webhook-id']).sort(),
      failed.map((e) => e.id).sort(),
      'exactly the failed ones, with their event ids',
    );
    // Attempt numbers keep counting: the third attempt of each.
    const { rows } = await s.db.pool.query(
      `SELECT max(attempt_number)::int AS n FROM delivery_attempts WHERE delivery_id = $1`,
      [deliveryFor(failed[0]!, w.id)],
    );
    assert.equal(rows[0].n, 3);

    assert.equal(await count(w.id, 'FAILED', true), 0, 'nothing failed is left');
    assert.equal(await count(w.id, 'ALL', true), 4);
    assert.equal(await count(w.id, 'ALL', false), 4);
    await eventually(
      () => r.received.filter((x) => x.path === path).length === before + 3 + 4,
      10_000,
      'ALL sends every event again',
    );
    const audit = await s.db.pool.query(
      `SELECT changes FROM audit_log WHERE target_id = $1 AND action = 'deliveries.replayed' ORDER BY at`,
      [w.id],
    );
    assert.deepEqual(
      audit.rows.map((x) => [x.changes.scope, x.changes.count]),
      [
        ['FAILED', 3],
        ['ALL', 4],
      ],
      'real runs are audited, dry runs are not',
    );
  });

  it('UNDELIVERED backfills a webhook created after the events: exactly those its subscription and filter match', async () => {
    const events: PublishedEvent[] = [];
    for (const [id, state] of [
      ['e1', 'complete'],
      ['e2', 'active'],
      ['e3', 'complete'],
    ])
      events.push(await publish(s, 'ENROLLMENTS', 'COMPLETE', { id, state }));
    await publish(s, 'ENROLLMENTS', 'UPDATE', { id: 'e1', state: 'complete' });

    const path = uniquePath('backfill');
    const w = await createWebhook(s, {
      url: `${r.url}${path}`,
      subs: [['ENROLLMENTS', 'COMPLETE', { state: 'complete' }]],
    });
    assert.equal(await count(w.id, 'FAILED', true), 0);
    assert.equal(await count(w.id, 'UNDELIVERED', true), 2);
    assert.equal(await count(w.id, 'UNDELIVERED', false), 2);
    await eventually(() => r.received.filter((x) => x.path === path).length === 2, 10_000, 'the backfill');
    assert.deepEqual(
      r.received
        .filter((x) => x.path === path)
        .map((x) => x.headers['webhook-id'])
        .sort(),
      [events[0]!.id, events[2]!.id].sort(),
    );
    await eventually(async () => (await statuses(w.id)).SUCCEEDED === 2, 10_000, 'recorded');
    assert.equal(await count(w.id, 'UNDELIVERED', true), 0, 'received successfully: nothing left to backfill');
  });

  it('a window of more than one batch is walked batch by batch, and the queued deliveries are spread at HOOKLINE_REPLAY_RATE', async () => {
    const quiet = await startServer('replay_batches', {
      env: { HOOKLINE_WORKER: 'false', HOOKLINE_REPLAY_RATE: '100' },
    });
    try {
      const w = await createWebhook(quiet, { url: 'http://127.0.0.1:9/none', subs: [['COURSES', 'CREATE']] });
      const n = REPLAY_BATCH + 250;
      await quiet.db.pool.query(
        `INSERT INTO events (account_id, resource, action, type, payload, occurred_at, created_at)
         SELECT '00000000-0000-4000-8000-000000000001', 'COURSES', 'CREATE', 'course.created', jsonb_build_object('id', g::text), now(), now() - interval '10 minutes' + g * interval '1 ms'
         FROM generate_series(1, $1) g`,
        [n],
      );
      const res = must(
        await quiet.gql<{ replayDeliveries: { count: number } }>(REPLAY, {
          id: w.id,
          since: since(),
          scope: 'UNDELIVERED',
        }),
        'replayDeliveries',
      );
      assert.equal(res.replayDeliveries.count, n);
      const { rows } = await quiet.db.pool.query<{ n: number; spread: number; step: number }>(
        `SELECT count(*)::int AS n, extract(epoch FROM max(next_attempt_at) - min(next_attempt_at))::float8 AS spread,
                extract(epoch FROM (array_agg(next_attempt_at ORDER BY next_attempt_at))[2] - min(next_attempt_at))::float8 AS step
         FROM delivery_queue WHERE webhook_id = $1`,
        [w.id],
      );
      assert.equal(rows[0]!.n, n, 'one queued delivery per event, none twice across the batch boundary');
      assert.ok(Math.abs(rows[0]!.step - 0.01) < 0.001, `1/100 s apart: ${rows[0]!.step}`);
      assert.ok(Math.abs(rows[0]!.spread - (n - 1) / 100) < 0.01, `${n} at 100/s: ${rows[0]!.spread} s`);
    } finally {
      await quiet.stop();
    }
  });

  it('the audit entry is written with the first batch: a replay refused by a later batch is audited with what it queued, complete: false', async () => {
    const quiet = await startServer('replay_audit', { env: { HOOKLINE_WORKER: 'false' } });
    try {
      const n = REPLAY_BATCH + 250;
      await quiet.db.pool.query(
        `INSERT INTO events (account_id, resource, action, type, payload, occurred_at, created_at)
         SELECT '00000000-0000-4000-8000-000000000001', 'PROGRAMS', 'DELETE', 'program.deleted', jsonb_build_object('id', g::text), now(),
                now() - interval '10 minutes' + g * interval '1 ms'
         FROM generate_series(1, $1) g`,
        [n],
      );
      // Which batch a costly filter refuses depends on the plan (it may price the whole window
      // before the LIMIT), so the refusal is injected: queueing event 1100 (second batch) raises it.
      const poison = (
        await quiet.db.pool.query<{ id: string }>(`SELECT id FROM events WHERE payload ->> 'id' = '1100'`)
      ).rows[0]!.id;
      await quiet.db.pool.query(
        `CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.event_id = '${poison}' THEN PERFORM hookline_filter_refused(NEW.event_id, NEW.webhook_id, '[]'); END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER test_refuse BEFORE INSERT ON delivery_queue FOR EACH ROW EXECUTE FUNCTION test_refuse()`,
      );
      const entries = async (id: string) =>
        must(
          await quiet.gql<{ auditLog: { edges: { node: { changes: Record<string, unknown> } }[] } }>(
            `query($id: ID!) { auditLog(targetId: $id, action: "deliveries.replayed") { edges { node { changes } } } }`,
            { id },
          ),
          'auditLog',
        ).auditLog.edges.map((e) => [e.node.changes.count, e.node.changes.complete]);
      const queued = async (id: string) =>
        (
          await quiet.db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM delivery_queue WHERE webhook_id = $1`,
            [id],
          )
        ).rows[0]!.n;

      const stopped = await createWebhook(quiet, { url: 'http://127.0.0.1:9/none', subs: [['PROGRAMS', 'DELETE']] });
      const res = await quiet.gql(REPLAY, { id: stopped.id, since: since(), scope: 'ALL' });
      assert.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(res.errors));
      assert.match(
        res.errors![0]!.message,
        new RegExp(`event ${poison} .*\\(${REPLAY_BATCH} deliveries were queued before it\\)`),
      );
      assert.equal(await queued(stopped.id), REPLAY_BATCH, 'the first batch stays queued');
      assert.deepEqual(await entries(stopped.id), [[REPLAY_BATCH, false]], 'audited with what it queued');

      await quiet.db.pool.query(`DROP TRIGGER test_refuse ON delivery_queue`);
      const full = await createWebhook(quiet, { url: 'http://127.0.0.1:9/none', subs: [['PROGRAMS', 'DELETE']] });
      const done = must(
        await quiet.gql<{ replayDeliveries: { count: number } }>(REPLAY, { id: full.id, since: since(), scope: 'ALL' }),
        'replayDeliveries',
      );
      assert.equal(done.replayDeliveries.count, n);
      assert.equal(await queued(full.id), n);
      assert.deepEqual(await entries(full.id), [[n, true]], 'one entry for the two batches, with the total');
    } finally {
      await quiet.stop();
    }
  });

  it('PER_OBJECT: replays go in a lane of their own, ordered among themselves, beside the live deliveries', async () => {
    const quiet = await startServer('replay_ordered', { env: { HOOKLINE_WORKER: 'false' } });
    try {
      for (let n = 1; n <= 3; n++) await publish(quiet, 'PROGRAMS', 'UPDATE', { id: 'p1', n });
      const w = await createWebhook(quiet, {
        url: 'http://127.0.0.1:9/none',
        subs: [['PROGRAMS', 'UPDATE']],
        ordering: 'PER_OBJECT',
      });
      await publish(quiet, 'PROGRAMS', 'UPDATE', { id: 'p1', n: 4 });
      assert.equal(
        must(await quiet.gql(REPLAY, { id: w.id, since: since(), scope: 'UNDELIVERED' }), 'replay').replayDeliveries
          .count,
        3,
      );
      const { rows } = await quiet.db.pool.query(
        `SELECT q.object_key, q.held, e.payload ->> 'n' AS n FROM delivery_queue q JOIN events e ON e.id = q.event_id
         WHERE q.webhook_id = $1 ORDER BY q.object_key, q.seq`,
        [w.id],
      );
      assert.deepEqual(rows, [
        { object_key: 'PROGRAMS:p1', held: false, n: '4' },
        { object_key: 'replay:PROGRAMS:p1', held: false, n: '1' },
        { object_key: 'replay:PROGRAMS:p1', held: true, n: '2' },
        { object_key: 'replay:PROGRAMS:p1', held: true, n: '3' },
      ]);
    } finally {
      await quiet.stop();
    }
  });

  it('refuses a window that reaches before the retention period, an empty window and an unknown webhook', async () => {
    const w = await createWebhook(s, { url: `${r.url}${uniquePath('replay-bad')}`, subs: [['USERS', 'CREATE']] });
    const codes = (res: GqlResult<unknown>) => res.errors?.map((e) => [e.extensions?.code, e.message]);
    const old = await s.gql(REPLAY, { id: w.id, since: new Date(Date.now() - 40 * 86_400_000).toISOString() });
    assert.deepEqual(codes(old)?.[0]?.[0], 'BAD_USER_INPUT');
    assert.match(String(codes(old)?.[0]?.[1]), /^since: is before the retention period \(HOOKLINE_RETENTION = 30d\)/);
    const empty = await s.gql(REPLAY, { id: w.id, since: since(), until: since() });
    assert.match(String(codes(empty)?.[0]?.[1]), /^until: expected a time after since/);
    const future = await s.gql(REPLAY, {
      id: w.id,
      since: since(),
      until: new Date(Date.now() + 60_000).toISOString(),
    });
    assert.match(String(codes(future)?.[0]?.[1]), /^until: expected a time not in the future/);
    const unknown = await s.gql(REPLAY, { id: '00000000-0000-4000-8000-000000000000', since: since() });
    assert.equal(codes(unknown)?.[0]?.[0], 'NOT_FOUND');
  });
});
