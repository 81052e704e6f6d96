import { after, before, describe, it } from 'node:test';
import {
  startServer,
  eventually,
  type TestServer,
  startReceiver,
  type Receiver,
  quiesce,
  createWebhook,
  deliveryFor,
  getDelivery,
  getWebhook,
  makeDue,
  must,
  publish,
  receivedAt,
  uniquePath,
  waitForAttempts,
} from '../kit/index.js';
import assert from 'node:assert/strict';

// Webhook status and delivery state over time: pause/resume, delete, redeliver,
// retryFailedDeliveries, and the automatic disable after a failure streak.
// Schedule '1h': two attempts in all, and nothing is retried on its own while
// the file runs; retries are brought forward by backdating next_attempt_at.

interface Health {
  status: string;
  consecutive_failures: number;
  failing_since: Date | null;
}

describe('delivery: webhook lifecycle', () => {
  let s: TestServer;
  let r: Receiver;

  before(async () => {
    s = await startServer('dlv_lifecycle', {
      env: {
        HOOKLINE_RETRY_SCHEDULE: '1h',
        HOOKLINE_DELIVERY_TIMEOUT: '2s',
        HOOKLINE_DISABLE_AFTER: '1h',
        HOOKLINE_DISABLE_MIN_FAILURES: '2',
      },
    });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  async function health(webhookId: string): Promise<Health> {
    const { rows } = await s.db.pool.query<Health>(
      'SELECT status, consecutive_failures, failing_since FROM webhooks WHERE id = $1',
      [webhookId],
    );
    return rows[0]!;
  }

  async function row(
    deliveryId: string,
  ): Promise<{ status: string; attempt_count: number; next_attempt_at: Date | null }> {
    // The queue row's hot state while queued; the log's once the delivery has left the queue.
    const { rows } = await s.db.pool.query(
      `SELECT d.status, coalesce(q.attempt_count, d.attempt_count) AS attempt_count,
              CASE WHEN q.delivery_id IS NULL THEN d.next_attempt_at ELSE q.next_attempt_at END AS next_attempt_at
       FROM deliveries d LEFT JOIN delivery_queue q ON q.delivery_id = d.id WHERE d.id = $1`,
      [deliveryId],
    );
    return rows[0];
  }

  async function setStatus(
    op: 'pauseWebhook' | 'resumeWebhook',
    id: string,
  ): Promise<{ status: string; statusReason: string | null }> {
    const res = await s.gql(`mutation($id: ID!) { ${op}(id: $id) { id status statusReason } }`, { id });
    return must<Record<string, { status: string; statusReason: string | null }>>(res, op)[op]!;
  }

  it('holds deliveries of a paused webhook and sends them on resume', async () => {
    const held = uniquePath('paused');
    const live = uniquePath('active');
    const p = await createWebhook(s, { url: `${r.url}${held}`, subs: [['LIVE_TRAININGS', 'CREATE']] });
    await createWebhook(s, { url: `${r.url}${live}`, subs: [['LIVE_TRAININGS', 'CREATE']] });
    const paused = await setStatus('pauseWebhook', p.id);
    assert.equal(paused.status, 'PAUSED');
    assert.ok(paused.statusReason, 'a pause records why');

    const ev = await publish(s, 'LIVE_TRAININGS', 'CREATE', { id: 'lt-held' });
    const id = deliveryFor(ev, p.id);
    await eventually(() => receivedAt(r, live).length === 1, 10_000, 'the active webhook to receive its copy');
    await quiesce(s);
    assert.equal(receivedAt(r, held).length, 0, 'the paused webhook received nothing');
    const parked = await getDelivery(s, id);
    assert.equal(parked.status, 'PENDING');
    assert.equal(parked.nextAttemptAt, null, 'parked: no attempt scheduled');
    assert.equal(parked.attempts.length, 0);

    const resumed = await setStatus('resumeWebhook', p.id);
    assert.equal(resumed.status, 'ACTIVE');
    assert.equal(resumed.statusReason, null);
    const m = await eventually(() => receivedAt(r, held)[0], 10_000, 'the held delivery after resume');
    assert.equal(m.headers['webhook-id'], ev.id);
    const done = await waitForAttempts(s, id, 1);
    assert.equal(done.status, 'SUCCEEDED');
    assert.equal(receivedAt(r, held).length, 1);
  });

  it('parks a retry that comes due while the webhook is paused, and sends it on resume', async () => {
    const path = uniquePath('pause-retry');
    let calls = 0;
    r.on(path, () => (++calls === 1 ? { status: 500 } : { status: 200 }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['LIVE_TRAININGS', 'UPDATE']] });
    const ev = await publish(s, 'LIVE_TRAININGS', 'UPDATE', { id: 'lt-retry' });
    const id = deliveryFor(ev, w.id);
    const first = await waitForAttempts(s, id, 1);
    assert.equal(first.status, 'PENDING');
    assert.ok(first.nextAttemptAt);

    await setStatus('pauseWebhook', w.id);
    await makeDue(s, id);
    // The worker claims it, sees the webhook paused, and parks it without using an attempt.
    await eventually(async () => (await row(id)).next_attempt_at === null, 10_000, 'the retry to be parked');
    const parked = await row(id);
    assert.equal(parked.status, 'PENDING');
    assert.equal(parked.attempt_count, 1);
    await quiesce(s);
    assert.equal(receivedAt(r, path).length, 1, 'nothing sent while paused');

    await setStatus('resumeWebhook', w.id);
    const done = await waitForAttempts(s, id, 2);
    assert.equal(done.status, 'SUCCEEDED');
    assert.deepEqual(
      done.attempts.map((a) => [a.attemptNumber, a.outcome]),
      [
        [1, 'HTTP_ERROR'],
        [2, 'SUCCESS'],
      ],
    );
    assert.equal(receivedAt(r, path).length, 2);
  });

  it('deleteWebhook cancels its pending deliveries (retrying and parked); they are never sent', async () => {
    const path = uniquePath('deleted');
    r.on(path, () => ({ status: 500 }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['COURSES', 'CREATE']] });
    const retrying: string[] = [];
    for (const n of [1, 2]) {
      const ev = await publish(s, 'COURSES', 'CREATE', { id: `c-${n}` });
      retrying.push(deliveryFor(ev, w.id));
    }
    for (const id of retrying) assert.equal((await waitForAttempts(s, id, 1)).status, 'PENDING');
    await setStatus('pauseWebhook', w.id);
    const parkedEv = await publish(s, 'COURSES', 'CREATE', { id: 'c-3' });
    const parked = deliveryFor(parkedEv, w.id);
    assert.equal((await row(parked)).next_attempt_at, null);

    const del = await s.gql(`mutation($id: ID!) { deleteWebhook(id: $id) }`, { id: w.id });
    assert.equal(must<{ deleteWebhook: boolean }>(del, 'deleteWebhook').deleteWebhook, true);
    assert.equal(await getWebhook(s, w.id), null);
    for (const id of [...retrying, parked]) {
      const d = await getDelivery(s, id);
      assert.equal(d.status, 'CANCELLED', `delivery ${id}`);
      assert.equal(d.nextAttemptAt, null);
    }
    // A cancelled delivery has left the queue: nothing of it is left to claim.
    const { rows: queued } = await s.db.pool.query('SELECT 1 FROM delivery_queue WHERE delivery_id = ANY($1)', [
      [...retrying, parked],
    ]);
    assert.deepEqual(queued, []);
    await quiesce(s);
    assert.equal(receivedAt(r, path).length, 2, 'only the two first attempts made before the delete');
    for (const id of [...retrying, parked]) {
      const x = await row(id);
      assert.equal(x.status, 'CANCELLED');
      assert.equal(x.attempt_count, id === parked ? 0 : 1);
    }
    // New events no longer reach the deleted webhook.
    const later = await publish(s, 'COURSES', 'CREATE', { id: 'c-4' });
    assert.ok(!later.deliveries.some((d) => d.webhook.id === w.id));
  });

  it('redeliver sends a SUCCEEDED delivery again, as attempt 2 with the same webhook-id', async () => {
    const path = uniquePath('redeliver');
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['COURSES', 'UPDATE']] });
    const ev = await publish(s, 'COURSES', 'UPDATE', { id: 'c-redo', title: 'Again' });
    const id = deliveryFor(ev, w.id);
    assert.equal((await waitForAttempts(s, id, 1)).status, 'SUCCEEDED');

    const res = await s.gql<{ redeliver: { id: string } }>(
      `mutation($id: ID!) { redeliver(deliveryId: $id) { id status } }`,
      { id },
    );
    assert.equal(must(res, 'redeliver').redeliver.id, id);
    const done = await waitForAttempts(s, id, 2);
    assert.equal(done.status, 'SUCCEEDED');
    assert.deepEqual(
      done.attempts.map((a) => [a.attemptNumber, a.outcome]),
      [
        [1, 'SUCCESS'],
        [2, 'SUCCESS'],
      ],
    );
    assert.equal(done.attemptCount, 2);
    const got = receivedAt(r, path);
    assert.equal(got.length, 2);
    assert.equal(got[0]!.headers['webhook-id'], ev.id);
    assert.equal(got[1]!.headers['webhook-id'], ev.id);
    assert.equal(got[1]!.body, got[0]!.body);
  });

  it('retryFailedDeliveries re-queues the FAILED deliveries created since the given time', async () => {
    const path = uniquePath('retry-failed');
    let failing = true;
    r.on(path, () => (failing ? { status: 500 } : { status: 200 }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['ENROLLMENTS', 'CREATE']] });
    const ids: string[] = [];
    for (const n of [1, 2, 3]) ids.push(deliveryFor(await publish(s, 'ENROLLMENTS', 'CREATE', { id: `e-${n}` }), w.id));
    for (const id of ids) await waitForAttempts(s, id, 1);
    for (const id of ids) await makeDue(s, id);
    for (const id of ids) assert.equal((await waitForAttempts(s, id, 2)).status, 'FAILED');
    // Failing for less than HOOKLINE_DISABLE_AFTER: still ACTIVE despite 6 failures.
    assert.equal((await getWebhook(s, w.id))!.status, 'ACTIVE');

    const [old, ...recent] = ids as [string, ...string[]];
    await s.db.pool.query(`UPDATE deliveries SET created_at = now() - interval '2 days' WHERE id = $1`, [old]);
    failing = false;
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const q = `mutation($w: ID!, $since: DateTimeISO!) { retryFailedDeliveries(webhookId: $w, since: $since) }`;
    const res = await s.gql<{ retryFailedDeliveries: number }>(q, { w: w.id, since });
    assert.equal(must(res, 'retryFailedDeliveries').retryFailedDeliveries, 2);

    for (const id of recent) {
      const d = await waitForAttempts(s, id, 3);
      assert.equal(d.status, 'SUCCEEDED');
      assert.deepEqual(
        d.attempts.map((a) => [a.attemptNumber, a.outcome]),
        [
          [1, 'HTTP_ERROR'],
          [2, 'HTTP_ERROR'],
          [3, 'SUCCESS'],
        ],
      );
    }
    assert.equal((await getDelivery(s, old)).status, 'FAILED', 'created before `since`: left alone');
    await quiesce(s);
    assert.equal(receivedAt(r, path).length, 3 * 2 + 2);
    const again = await s.gql<{ retryFailedDeliveries: number }>(q, { w: w.id, since });
    assert.equal(must(again, 'retryFailedDeliveries').retryFailedDeliveries, 0, 'nothing FAILED since then any more');
  });

  it('disables a webhook whose attempts all failed for HOOKLINE_DISABLE_AFTER with enough failures; resume clears it', async () => {
    const path = uniquePath('auto-disable');
    r.on(path, () => ({ status: 500 }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['ENROLLMENTS', 'UPDATE']] });
    const ev = await publish(s, 'ENROLLMENTS', 'UPDATE', { id: 'e-dis' });
    const id = deliveryFor(ev, w.id);
    await waitForAttempts(s, id, 1);
    const h1 = await health(w.id);
    assert.equal(h1.consecutive_failures, 1);
    assert.ok(h1.failing_since, 'failing_since set at the first failure');
    assert.equal(h1.status, 'ACTIVE', 'one failure is not enough');

    await s.db.pool.query(`UPDATE webhooks SET failing_since = now() - interval '2 hours' WHERE id = $1`, [w.id]);
    await makeDue(s, id);
    await waitForAttempts(s, id, 2);
    const disabled = await eventually(
      async () => {
        const x = await getWebhook(s, w.id);
        return x?.status === 'DISABLED' ? x : null;
      },
      10_000,
      'the webhook to be disabled',
    );
    assert.ok(disabled.statusReason && disabled.statusReason.length > 0, 'the reason is recorded');
    assert.match(disabled.statusReason!, /fail/i);
    assert.equal((await health(w.id)).consecutive_failures, 2);

    // Deliveries of a DISABLED webhook wait …
    const held = await publish(s, 'ENROLLMENTS', 'UPDATE', { id: 'e-held' });
    const heldId = deliveryFor(held, w.id);
    assert.equal((await row(heldId)).next_attempt_at, null);
    // … and resume re-enables it with a clean history and sends them.
    r.on(path, () => ({ status: 200 }));
    const resumed = await setStatus('resumeWebhook', w.id);
    assert.equal(resumed.status, 'ACTIVE');
    assert.equal(resumed.statusReason, null);
    assert.equal((await waitForAttempts(s, heldId, 1)).status, 'SUCCEEDED');
    const h2 = await health(w.id);
    assert.equal(h2.consecutive_failures, 0);
    assert.equal(h2.failing_since, null);
  });

  it('a success ends a failure streak', async () => {
    const path = uniquePath('streak');
    let calls = 0;
    r.on(path, () => (++calls === 1 ? { status: 502 } : { status: 200 }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['ENROLLMENTS', 'DELETE']] });
    const ev = await publish(s, 'ENROLLMENTS', 'DELETE', { id: 'e-streak' });
    const id = deliveryFor(ev, w.id);
    await waitForAttempts(s, id, 1);
    const failing = await health(w.id);
    assert.equal(failing.consecutive_failures, 1);
    assert.ok(failing.failing_since);

    await makeDue(s, id);
    assert.equal((await waitForAttempts(s, id, 2)).status, 'SUCCEEDED');
    const ok = await eventually(
      async () => {
        const x = await health(w.id);
        return x.consecutive_failures === 0 ? x : null;
      },
      10_000,
      'the streak to reset',
    );
    assert.equal(ok.failing_since, null);
    assert.equal(ok.status, 'ACTIVE');
  });
});
