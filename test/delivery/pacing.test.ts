import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWebhook, must, setPaused, startServer, type TestServer } from '../kit/index.js';

// Releasing many deliveries at once (resumeWebhook, retryFailedDeliveries) is
// paced at HOOKLINE_REPLAY_RATE like a replay (storage/sql/pacing.ts): the
// k-th is due k/rate seconds after the first, in publish order, PER_OBJECT
// order kept. Asserted on the stored times, with no worker: nothing is sent.

const RATE = 20;
const N = 50;

const PUBLISH_MANY = `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }`;

describe('paced release', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer('pacing', { env: { HOOKLINE_WORKER: 'false', HOOKLINE_REPLAY_RATE: String(RATE) } });
  });
  after(() => s.stop());

  const publishMany = async (payloads: Record<string, unknown>[]) =>
    must(
      await s.gql(
        PUBLISH_MANY,
        { inputs: payloads.map((payload) => ({ resource: 'COURSES', action: 'UPDATE', payload })) },
        'PUBLISHER',
      ),
      'publishEvents',
    );

  interface Due {
    n: number;
    object_key: string | null;
    seq: string | null;
    held: boolean;
    /** Seconds after the first one's time. */
    offset: number | null;
    /** Seconds from now. */
    from_now: number | null;
    mirrored: boolean;
  }
  /** The webhook's queue rows in publish order, with when each is due. */
  const due = async (webhookId: string): Promise<Due[]> =>
    (
      await s.db.pool.query<Due>(
        `SELECT (e.payload ->> 'n')::int AS n, q.object_key, q.seq, q.held,
                extract(epoch FROM q.next_attempt_at - min(q.next_attempt_at) OVER ())::float8 AS offset,
                extract(epoch FROM q.next_attempt_at - now())::float8 AS from_now,
                d.next_attempt_at IS NOT DISTINCT FROM q.next_attempt_at AS mirrored
         FROM delivery_queue q JOIN events e ON e.id = q.event_id JOIN deliveries d ON d.id = q.delivery_id
         WHERE q.webhook_id = $1 ORDER BY e.seq`,
        [webhookId],
      )
    ).rows;

  /** Due 1/RATE s apart in `rows`' order, the first about now, the deliveries table agreeing. */
  const assertPaced = (rows: Due[]) => {
    assert.equal(rows.length, N);
    rows.forEach((r, k) => {
      assert.ok(r.offset !== null && Math.abs(r.offset - k / RATE) < 0.001, `#${k} due ${r.offset} s after the first`);
      assert.ok(r.mirrored, `#${k}: deliveries.next_attempt_at mirrors the queue`);
    });
    assert.ok(Math.abs(rows[0]!.from_now!) < 5, `the first is due now: ${rows[0]!.from_now} s from now`);
  };

  it('resumeWebhook: the parked deliveries are due 1/rate s apart, in publish order', async () => {
    const w = await createWebhook(s, { url: 'http://127.0.0.1:9/none', subs: [['COURSES', 'UPDATE']] });
    await setPaused(s, w.id, true);
    await publishMany(Array.from({ length: N }, (_, n) => ({ id: `c${n}`, n })));
    assert.ok(
      (await due(w.id)).every((r) => r.offset === null),
      'parked while paused',
    );
    await setPaused(s, w.id, false);
    const rows = await due(w.id);
    assert.deepEqual(
      rows.map((r) => r.n),
      Array.from({ length: N }, (_, n) => n),
    );
    assertPaced(rows);
  });

  it('resumeWebhook, PER_OBJECT: each object keeps its order, and its rows keep their keys', async () => {
    const w = await createWebhook(s, {
      url: 'http://127.0.0.1:9/none',
      subs: [['COURSES', 'UPDATE']],
      ordering: 'PER_OBJECT',
    });
    await setPaused(s, w.id, true);
    // Five objects, interleaved.
    await publishMany(Array.from({ length: N }, (_, n) => ({ id: `o${n % 5}`, n })));
    await setPaused(s, w.id, false);
    const rows = await due(w.id);
    assertPaced(rows);
    for (let o = 0; o < 5; o++) {
      const mine = rows.filter((r) => r.object_key === `COURSES:o${o}`);
      assert.equal(mine.length, N / 5);
      assert.ok(
        mine.every((r, i) => i === 0 || r.offset! > mine[i - 1]!.offset!),
        `object o${o}: each due after the one before it`,
      );
      assert.deepEqual(
        mine.map((r) => r.held),
        mine.map((_, i) => i > 0),
        `object o${o}: all but the first still held behind it`,
      );
    }
  });

  it('retryFailedDeliveries: the failed deliveries are due 1/rate s apart, in publish order; parked for a paused webhook', async () => {
    const w = await createWebhook(s, { url: 'http://127.0.0.1:9/none', subs: [['COURSES', 'UPDATE']] });
    await publishMany(Array.from({ length: N }, (_, n) => ({ id: `f${n}`, n })));
    // As the worker leaves a delivery whose attempts all failed: out of the queue, FAILED.
    await s.db.pool.query(
      `WITH gone AS (DELETE FROM delivery_queue WHERE webhook_id = $1 RETURNING delivery_id)
       UPDATE deliveries d SET status = 'FAILED', next_attempt_at = NULL, attempt_count = 2 FROM gone WHERE d.id = gone.delivery_id`,
      [w.id],
    );
    const RETRY = `mutation($id: ID!, $since: DateTimeISO!) { retryFailedDeliveries(webhookId: $id, since: $since) }`;
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const res = must(await s.gql<{ retryFailedDeliveries: number }>(RETRY, { id: w.id, since }), 'retry');
    assert.equal(res.retryFailedDeliveries, N);
    const rows = await due(w.id);
    assert.deepEqual(
      rows.map((r) => r.n),
      Array.from({ length: N }, (_, n) => n),
    );
    assertPaced(rows);
    const attempts = await s.db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM delivery_queue WHERE webhook_id = $1 AND attempt_count = 2`,
      [w.id],
    );
    assert.equal(attempts.rows[0]!.n, N, 'attempt numbers keep counting');

    const paused = await createWebhook(s, { url: 'http://127.0.0.1:9/none', subs: [['PROGRAMS', 'UPDATE']] });
    must(
      await s.gql(
        PUBLISH_MANY,
        { inputs: [{ resource: 'PROGRAMS', action: 'UPDATE', payload: { id: 'p' } }] },
        'PUBLISHER',
      ),
      'publishEvents',
    );
    await s.db.pool.query(
      `WITH gone AS (DELETE FROM delivery_queue WHERE webhook_id = $1 RETURNING delivery_id)
       UPDATE deliveries d SET status = 'FAILED', next_attempt_at = NULL FROM gone WHERE d.id = gone.delivery_id`,
      [paused.id],
    );
    await setPaused(s, paused.id, true);
    assert.equal(must(await s.gql(RETRY, { id: paused.id, since }), 'retry').retryFailedDeliveries, 1);
    const parked = await s.db.pool.query(`SELECT next_attempt_at FROM delivery_queue WHERE webhook_id = $1`, [
      paused.id,
    ]);
    assert.deepEqual(parked.rows, [{ next_attempt_at: null }], 'parked until resumed');
  });
});
