import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pruneHistory } from '../../src/delivery/maintenance.js';
import {
  createWebhook,
  eventually,
  must,
  publish,
  quiesce,
  receivedAt,
  setPaused,
  startReceiver,
  startServer,
  uniquePath,
  v1Verifies,
  type PublishedEvent,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// Stopping means stopped (delivery contract, revision 3): once a pause, a
// delete, a 410 or a secret change has returned, nothing claimed but not yet
// sent goes out with the old state, and each delivery's recorded status is
// what its destination saw. Two requests per webhook at a time, each held by
// the receiver for a while: when the change is made, two are on the wire and
// up to six more are claimed and waiting in the worker's lane (LANE_DEPTH).

const EVENTS = 30;

describe('delivery: stopping means stopped', () => {
  let s: TestServer;
  let r: Receiver;

  before(async () => {
    s = await startServer('dlv_stopping', {
      env: { HOOKLINE_PER_WEBHOOK_CONCURRENCY: '2', HOOKLINE_RETRY_SCHEDULE: '1h' },
    });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  /**
   * A webhook with EVENTS events published to it, two on the wire: its
   * destination holds the first two requests until release() (what comes
   * after, if anything, is answered at once).
   */
  async function busyWebhook(
    answer: { status: number } = { status: 200 },
    extra: { generateHmacSecret?: boolean } = {},
  ): Promise<{ id: string; path: string; events: PublishedEvent[]; secret: string | null; release: () => void }> {
    const path = uniquePath('stopping');
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let n = 0;
    r.on(path, () => ({ ...answer, ...(++n <= 2 ? { until: released } : {}) }));
    const w = await createWebhook(s, { url: r.url + path, subs: [['COURSES', 'CREATE']], ...extra });
    const events = await Promise.all(
      Array.from({ length: EVENTS }, (_, i) => publish(s, 'COURSES', 'CREATE', { id: `c${i}` })),
    );
    await eventually(() => receivedAt(r, path).length >= 2, 5_000, 'two requests on the wire');
    return { id: w.id, path, events, secret: w.generatedHmacSecret, release };
  }

  const statuses = async (webhookId: string) => {
    const { rows } = await s.db.pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM deliveries WHERE webhook_id = $1 GROUP BY status`,
      [webhookId],
    );
    return Object.fromEntries(rows.map((x) => [x.status, x.n]));
  };

  it('pause: nothing claimed goes out after it returns; the claimed deliveries are parked, no attempt used', async () => {
    const w = await busyWebhook();
    await setPaused(s, w.id, true);
    w.release();
    await quiesce(s);
    assert.equal(receivedAt(r, w.path).length, 2, 'only the two on the wire reached the destination');
    assert.deepEqual(await statuses(w.id), { SUCCEEDED: 2, PENDING: EVENTS - 2 });
    const { rows } = await s.db.pool.query<{ parked: number; unused: number }>(
      `SELECT count(*) FILTER (WHERE q.next_attempt_at IS NULL)::int AS parked,
              count(*) FILTER (WHERE q.attempt_count = 0)::int AS unused
       FROM delivery_queue q WHERE q.webhook_id = $1`,
      [w.id],
    );
    assert.deepEqual(rows[0], { parked: EVENTS - 2, unused: EVENTS - 2 });
  });

  it('delete: the two on the wire are recorded as what the destination saw, the rest cancelled and never sent', async () => {
    const w = await busyWebhook();
    const del = await s.gql(`mutation($id: ID!) { deleteWebhook(id: $id) }`, { id: w.id });
    must(del, 'deleteWebhook');
    w.release();
    await quiesce(s);
    assert.equal(receivedAt(r, w.path).length, 2);
    assert.deepEqual(await statuses(w.id), { SUCCEEDED: 2, CANCELLED: EVENTS - 2 });
    const { rows } = await s.db.pool.query<{ outcome: string; status: string }>(
      `SELECT a.outcome, d.status FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
       WHERE a.webhook_id = $1`,
      [w.id],
    );
    assert.deepEqual(rows, [
      { outcome: 'SUCCESS', status: 'SUCCEEDED' },
      { outcome: 'SUCCESS', status: 'SUCCEEDED' },
    ]);
  });

  it('a 410: the webhook is disabled before its attempt is recorded, and nothing else claimed is sent', async () => {
    const w = await busyWebhook({ status: 410 });
    w.release();
    await eventually(
      async () =>
        (await s.db.pool.query('SELECT 1 FROM delivery_attempts WHERE webhook_id = $1', [w.id])).rowCount === 2,
      10_000,
      'both 410s recorded',
    );
    await quiesce(s);
    assert.equal(receivedAt(r, w.path).length, 2);
    const { rows } = await s.db.pool.query<{ status: string }>('SELECT status FROM webhooks WHERE id = $1', [w.id]);
    assert.equal(rows[0]!.status, 'DISABLED');
    // A 410 is retried once the webhook is enabled again: every delivery waits, parked.
    assert.deepEqual(await statuses(w.id), { PENDING: EVENTS });
  });

  it('a rotation without overlap: every request started after it is signed with the new secret only', async () => {
    const w = await busyWebhook({ status: 200 }, { generateHmacSecret: true });
    const rotated = must(
      await s.gql<{ rotateWebhookSecret: { secret: string } }>(
        `mutation($id: ID!) { rotateWebhookSecret(webhookId: $id, overlapSeconds: 0) { secret } }`,
        { id: w.id },
      ),
      'rotateWebhookSecret',
    ).rotateWebhookSecret.secret;
    w.release();
    await eventually(() => receivedAt(r, w.path).length === EVENTS, 30_000, 'every event delivered');
    const [first, second, ...later] = receivedAt(r, w.path);
    for (const m of [first!, second!]) assert.ok(v1Verifies(w.secret!, m), 'the two on the wire: the old secret');
    assert.equal(later.length, EVENTS - 2);
    for (const m of later) {
      assert.ok(v1Verifies(rotated, m), 'signed with the new secret');
      assert.ok(!v1Verifies(w.secret!, m), 'not with the old one');
    }
  });

  it('a prune while an attempt is in flight wedges nothing: the attempt is recorded, later events flow', async () => {
    const w = await busyWebhook();
    must(await s.gql(`mutation($id: ID!) { deleteWebhook(id: $id) }`, { id: w.id }), 'deleteWebhook');
    // Everything finished is past retention now: the cancelled deliveries; not the claimed ones.
    const pruned = await pruneHistory(s.db.pool, new Date(Date.now() + 3_600_000));
    assert.ok(pruned.events > 0, 'finished history was pruned');
    assert.equal(receivedAt(r, w.path).length, 2, 'the prune ran while two were on the wire');
    w.release();
    await quiesce(s);
    const { SUCCEEDED, ...rest } = await statuses(w.id);
    assert.equal(SUCCEEDED, 2, 'the two on the wire recorded as the destination saw them');
    assert.deepEqual(Object.keys(rest), rest.CANCELLED ? ['CANCELLED'] : [], 'every other delivery cancelled');
    const { rows } = await s.db.pool.query<{ outcome: string }>(
      'SELECT outcome FROM delivery_attempts WHERE webhook_id = $1',
      [w.id],
    );
    assert.deepEqual(rows, [{ outcome: 'SUCCESS' }, { outcome: 'SUCCESS' }]);

    const path = uniquePath('after-prune');
    const next = await createWebhook(s, { url: r.url + path, subs: [['USERS', 'CREATE']] });
    await publish(s, 'USERS', 'CREATE', { id: 'u-after' });
    await eventually(async () => (await statuses(next.id)).SUCCEEDED === 1, 10_000, 'a later event recorded');
    assert.equal(receivedAt(r, path).length, 1);
  });

  it('an attempt whose delivery vanished is not recorded, and the attempts after it are', async () => {
    const path = uniquePath('vanished');
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    r.on(path, () => ({ status: 200, until: released }));
    const w = await createWebhook(s, { url: r.url + path, subs: [['PROGRAMS', 'CREATE']] });
    const e = await publish(s, 'PROGRAMS', 'CREATE', { id: 'p-gone' });
    await eventually(() => receivedAt(r, path).length === 1, 5_000, 'the request on the wire');
    // Whatever removes a delivery under a request (an operator, a future prune): its attempt has nowhere to go.
    await s.db.pool.query('DELETE FROM delivery_queue WHERE delivery_id = $1', [e.deliveries[0]!.id]);
    await s.db.pool.query('DELETE FROM deliveries WHERE id = $1', [e.deliveries[0]!.id]);
    release();
    await quiesce(s);
    const later = await publish(s, 'PROGRAMS', 'CREATE', { id: 'p-next' });
    await eventually(async () => (await statuses(w.id)).SUCCEEDED === 1, 10_000, 'the next attempt recorded');
    const { rows } = await s.db.pool.query<{ delivery_id: string }>(
      'SELECT delivery_id FROM delivery_attempts WHERE webhook_id = $1',
      [w.id],
    );
    assert.deepEqual(
      rows.map((x) => x.delivery_id),
      [later.deliveries[0]!.id],
    );
  });
});
