import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PRUNE_BATCH } from '../../src/delivery/maintenance.js';
import { PRUNE_BATCH_SQL } from '../../src/storage/sql/retention.js';
import {
  createWebhook,
  deliveryFor,
  publish,
  runCli,
  setPaused,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  type PublishedEvent,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// Retention: maintenance removes finished history past HOOKLINE_RETENTION,
// batch by batch, and never an event that still has a delivery to make, however
// old. Age is made by backdating rows, not by waiting.

const DAY = 86_400_000;

describe('retention', () => {
  let s: TestServer;
  let r: Receiver;

  before(async () => {
    // Failures retry in an hour: a failing delivery stays PENDING throughout.
    s = await startServer('retention', { env: { HOOKLINE_RETRY_SCHEDULE: '1h', HOOKLINE_RETENTION: '30d' } });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  const count = async (table: string, where = 'true', params: unknown[] = []) =>
    (await s.db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, params)).rows[0]!.n;

  /** Ages the given events (and their deliveries and attempts) by `days`. */
  async function age(events: PublishedEvent[], days: number): Promise<void> {
    const ids = events.map((e) => e.id);
    const by = `${days} days`;
    await s.db.pool.query(`UPDATE events SET created_at = created_at - $2::interval WHERE id = ANY($1)`, [ids, by]);
    await s.db.pool.query(`UPDATE deliveries SET created_at = created_at - $2::interval WHERE event_id = ANY($1)`, [
      ids,
      by,
    ]);
    await s.db.pool.query(
      `UPDATE delivery_attempts SET started_at = started_at - $2::interval WHERE event_id = ANY($1)`,
      [ids, by],
    );
  }

  it('removes finished events past retention with their deliveries and attempts; keeps the young and the unfinished', async () => {
    const ok = await createWebhook(s, { url: `${r.url}${uniquePath('ret-ok')}`, subs: [['COURSES', 'UPDATE']] });
    const failing = uniquePath('ret-fail');
    r.on(failing, () => ({ status: 503 }));
    const bad = await createWebhook(s, { url: `${r.url}${failing}`, subs: [['COURSES', 'DELETE']] });
    const paused = await createWebhook(s, {
      url: `${r.url}${uniquePath('ret-paused')}`,
      subs: [['COURSES', 'CREATE']],
    });
    await setPaused(s, paused.id, true);

    const finishedOld: PublishedEvent[] = [];
    for (let i = 0; i < 3; i++) {
      const ev = await publish(s, 'COURSES', 'UPDATE', { id: `old-${i}` });
      await waitForAttempts(s, deliveryFor(ev, ok.id), 1);
      finishedOld.push(ev);
    }
    const retrying = await publish(s, 'COURSES', 'DELETE', { id: 'retrying' });
    await waitForAttempts(s, deliveryFor(retrying, bad.id), 1);
    const parked = await publish(s, 'COURSES', 'CREATE', { id: 'parked' });
    const young = await publish(s, 'COURSES', 'UPDATE', { id: 'young' });
    await waitForAttempts(s, deliveryFor(young, ok.id), 1);

    // A year old: past 30 days of retention, all of them but the young one.
    await age([...finishedOld, retrying, parked], 365);
    const report = await s.hookline.maintenance!.runNow();
    assert.equal(report.ran, true);
    assert.deepEqual(report.pruned, { events: 3, deliveries: 3, attempts: 3 });

    const gone = finishedOld.map((e) => e.id);
    assert.equal(await count('events', 'id = ANY($1)', [gone]), 0);
    assert.equal(await count('deliveries', 'event_id = ANY($1)', [gone]), 0);
    assert.equal(await count('delivery_attempts', 'event_id = ANY($1)', [gone]), 0);
    const kept = [retrying.id, parked.id, young.id];
    assert.equal(await count('events', 'id = ANY($1)', [kept]), 3, 'a retrying, a parked and a young event stay');
    assert.equal(await count('delivery_attempts', 'event_id = $1', [retrying.id]), 1, 'with their attempts');
    const api = await s.gql('query($id: ID!) { event(id: $id) { id } }', { id: gone[0] });
    assert.deepEqual(api.data, { event: null }, 'the API no longer knows a pruned event');

    // Once the retrying delivery fails for good, its (year-old) event goes at the next round.
    await s.db.pool.query(`UPDATE deliveries SET status = 'FAILED' WHERE event_id = $1`, [retrying.id]);
    await s.db.pool.query(`DELETE FROM delivery_queue WHERE event_id = $1`, [retrying.id]);
    const next = await s.hookline.maintenance!.runNow();
    assert.deepEqual(next.pruned, { events: 1, deliveries: 1, attempts: 1 });
    assert.equal(await count('events', 'id = ANY($1)', [[parked.id, young.id]]), 2);
  });

  it('works through a backlog batch by batch and counts it in hookline_pruned_rows_total', async () => {
    const w = await createWebhook(s, { url: `${r.url}${uniquePath('ret-bulk')}`, subs: [['USERS', 'CREATE']] });
    const n = PRUNE_BATCH * 2 + 500;
    // Finished history written directly, as months of traffic would have left it.
    await s.db.pool.query(
      `WITH ev AS (
         INSERT INTO events (account_id, resource, action, type, payload, occurred_at, created_at)
         SELECT '00000000-0000-4000-8000-000000000001', 'USERS', 'CREATE', 'user.created', jsonb_build_object('id', g::text), now() - interval '90 days', now() - interval '90 days' + g * interval '1 ms'
         FROM generate_series(1, $1) g RETURNING id, created_at
       ), dl AS (
         INSERT INTO deliveries (event_id, webhook_id, status, attempt_count, created_at)
         SELECT id, $2, 'SUCCEEDED', 1, created_at FROM ev RETURNING id, event_id, created_at
       )
       INSERT INTO delivery_attempts (delivery_id, webhook_id, event_id, attempt_number, outcome, response_status, duration_ms, started_at)
       SELECT id, $2, event_id, 1, 'SUCCESS', 200, 3, created_at FROM dl`,
      [n, w.id],
    );
    const metrics = `${new URL(s.url).origin}/metrics`;
    const prunedTotal = async () => {
      const text = await (await fetch(metrics)).text();
      const line = /^hookline_pruned_rows_total\{table="events"\} (\d+)$/m.exec(text);
      assert.ok(line, 'hookline_pruned_rows_total{table="events"}');
      return Number(line[1]);
    };
    const before = await prunedTotal();
    const report = await s.hookline.maintenance!.runNow();
    assert.deepEqual(report.pruned, { events: n, deliveries: n, attempts: n });
    assert.equal(await count('deliveries', 'webhook_id = $1', [w.id]), 0);
    assert.equal((await prunedTotal()) - before, n);
  });

  it('prunes the audit log past HOOKLINE_AUDIT_RETENTION (365 days by default)', async () => {
    await createWebhook(s, { url: `${r.url}${uniquePath('ret-audit')}`, subs: [['PROGRAMS', 'CREATE']] });
    const total = await count('audit_log');
    assert.ok(total >= 2);
    await s.db.pool.query(
      `UPDATE audit_log SET at = at - interval '400 days' WHERE id = (SELECT id FROM audit_log ORDER BY at LIMIT 1)`,
    );
    const report = await s.hookline.maintenance!.runNow();
    assert.equal(report.auditPruned, 1);
    assert.equal(await count('audit_log'), total - 1);
  });

  it('the clock decides what is old: moved 31 days on, yesterday’s finished history goes', async () => {
    const w = await createWebhook(s, { url: `${r.url}${uniquePath('ret-clock')}`, subs: [['PROGRAMS', 'UPDATE']] });
    const ev = await publish(s, 'PROGRAMS', 'UPDATE', { id: 'clock' });
    await waitForAttempts(s, deliveryFor(ev, w.id), 1);
    await age([ev], 1);
    assert.deepEqual((await s.hookline.maintenance!.runNow()).pruned.events, 0, 'a day old is within 30 days');
    s.clock.advance(31 * DAY);
    try {
      const report = await s.hookline.maintenance!.runNow();
      assert.ok(report.pruned.events >= 1);
      assert.equal(await count('events', 'id = $1', [ev.id]), 0);
    } finally {
      s.clock.advance(-31 * DAY);
    }
  });

  it('a batch is found through events_page, checked through delivery_queue_event, its rows through deliveries_event_webhook (EXPLAIN)', async () => {
    const client = await s.db.pool.connect();
    try {
      // Small tables here: forbid the plans a small table invites, to ask whether the indexes can answer.
      await client.query('SET enable_seqscan = off');
      await client.query('SET enable_bitmapscan = off');
      const { rows } = await client.query(`EXPLAIN ${PRUNE_BATCH_SQL}`, [new Date(Date.now() - 30 * DAY), PRUNE_BATCH]);
      const plan = rows.map((x: Record<string, string>) => x['QUERY PLAN']).join('\n');
      assert.match(plan, /Index Scan Backward using events_page on events/, plan);
      assert.match(plan, /delivery_queue_event on delivery_queue/, plan);
      assert.match(plan, /deliveries_event_webhook on deliveries/, plan);
      assert.match(plan, /delivery_attempts_delivery on delivery_attempts/, plan);
    } finally {
      await client.query('RESET enable_bitmapscan');
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });
});

describe('hookline prune', () => {
  it('after some deliveries finished: --dry-run counts and changes nothing; then it deletes exactly those, keeping a paused webhook’s pending delivery', async () => {
    const s = await startServer('prune_cli');
    const r = await startReceiver();
    try {
      const ok = await createWebhook(s, { url: `${r.url}${uniquePath('cli-ok')}`, subs: [['USERS', 'UPDATE']] });
      const paused = await createWebhook(s, {
        url: `${r.url}${uniquePath('cli-paused')}`,
        subs: [['USERS', 'DELETE']],
      });
      await setPaused(s, paused.id, true);
      const done: PublishedEvent[] = [];
      for (let i = 0; i < 2; i++) {
        const ev = await publish(s, 'USERS', 'UPDATE', { id: `cli-${i}` });
        await waitForAttempts(s, deliveryFor(ev, ok.id), 1);
        done.push(ev);
      }
      const waiting = await publish(s, 'USERS', 'DELETE', { id: 'cli-waiting' });
      // Older than the 1 s cutoff without waiting for it.
      await s.db.pool.query(`UPDATE events SET created_at = created_at - interval '1 minute'`);
      const env = { DATABASE_URL: s.db.url };
      const counts = /\n {2}events\t2\n {2}deliveries\t2\n {2}delivery_attempts\t2\n$/;

      const dry = await runCli(['prune', '--older-than', '1s', '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /^would delete \(created before .+\):/);
      assert.match(dry.stdout, counts);
      const all = async () =>
        (await s.db.pool.query<{ id: string }>('SELECT id FROM events ORDER BY id')).rows.map((x) => x.id);
      assert.equal((await all()).length, 3, 'a dry run deletes nothing');

      const real = await runCli(['prune', '--older-than', '1s'], env);
      assert.equal(real.code, 0, real.stderr);
      assert.match(real.stdout, /^deleted \(created before .+\):/);
      assert.match(real.stdout, counts);
      assert.match(real.stderr, /^prune: 2 events, 2 deliveries, 2 attempts so far$/m, 'a progress line');
      assert.deepEqual(await all(), [waiting.id]);
      const pending = await s.db.pool.query(`SELECT status FROM deliveries WHERE event_id = $1`, [waiting.id]);
      assert.deepEqual(pending.rows, [{ status: 'PENDING' }]);

      const wrong = await runCli(['prune', '--older-than', 'soon'], env);
      assert.equal(wrong.code, 2, 'a usage error');
      assert.match(wrong.stderr, /--older-than/);
    } finally {
      await s.stop();
      await r.close();
    }
  });
});
