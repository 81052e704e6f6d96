import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { hourlyStats, pendingOf } from '../../src/storage/sql/stats.js';
import {
  createWebhook,
  deliveryFor,
  must,
  publish,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// Webhook.stats: per-webhook figures over the last hours, from the hourly
// rollups the attempt-recording statement maintains; a page of webhooks never
// reads the attempt log.

const STATS = `query($id: ID!, $h: Int) { webhook(id: $id) { stats(hours: $h) {
  hours attempts succeeded failed successRate averageDurationMs pendingDeliveries oldestPendingAt lastAttemptAt
  hourly { hour attempts succeeded failed }
} } }`;

interface Stats {
  hours: number;
  attempts: number;
  succeeded: number;
  failed: number;
  successRate: number | null;
  averageDurationMs: number | null;
  pendingDeliveries: number;
  oldestPendingAt: string | null;
  lastAttemptAt: string | null;
  hourly: { hour: string; attempts: number; succeeded: number; failed: number }[];
}

describe('Webhook.stats', () => {
  let s: TestServer;
  let r: Receiver;
  let ok: string;
  let bad: string;
  let firstPublish: number;

  before(async () => {
    // Failures retry in an hour: the failing webhook's deliveries stay pending.
    s = await startServer('stats', { env: { HOOKLINE_RETRY_SCHEDULE: '1h' } });
    r = await startReceiver();
    const failing = uniquePath('stats-bad');
    r.on(failing, () => ({ status: 500 }));
    ok = (await createWebhook(s, { url: `${r.url}${uniquePath('stats-ok')}`, subs: [['COURSES', 'CREATE']] })).id;
    bad = (await createWebhook(s, { url: `${r.url}${failing}`, subs: [['COURSES', 'CREATE']] })).id;
    firstPublish = Date.now();
    for (let i = 0; i < 3; i++) {
      const ev = await publish(s, 'COURSES', 'CREATE', { id: `s${i}` });
      await waitForAttempts(s, deliveryFor(ev, ok), 1);
      await waitForAttempts(s, deliveryFor(ev, bad), 1);
    }
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  const stats = async (id: string, hours?: number): Promise<Stats> =>
    must(await s.gql(STATS, { id, h: hours }), 'stats').webhook.stats as Stats;

  it('counts attempts, successes and failures, and the pending deliveries, over the default 24 hours', async () => {
    const a = await stats(ok);
    assert.deepEqual([a.hours, a.attempts, a.succeeded, a.failed, a.successRate], [24, 3, 3, 0, 1]);
    assert.equal(typeof a.averageDurationMs, 'number');
    assert.deepEqual([a.pendingDeliveries, a.oldestPendingAt], [0, null]);
    const last = Date.parse(a.lastAttemptAt!);
    assert.ok(last >= firstPublish - 1000 && last <= Date.now(), `last attempt at ${a.lastAttemptAt}`);
    const b = await stats(bad);
    assert.deepEqual([b.attempts, b.succeeded, b.failed, b.successRate], [3, 0, 3, 0]);
    assert.equal(b.pendingDeliveries, 3, 'retrying in an hour');
    const oldest = Date.parse(b.oldestPendingAt!);
    assert.ok(oldest >= firstPublish - 1000 && oldest <= Date.now(), `oldest pending at ${b.oldestPendingAt}`);
  });

  it('gives every hour of the window, oldest first, empty hours included', async () => {
    // The window ends with the database's current hour and the attempts sit in
    // the hour they started: both are read from the database around the query,
    // so a run that crosses the top of an hour asserts the same thing.
    const dbHour = async (): Promise<number> =>
      ((await s.db.pool.query(`SELECT date_trunc('hour', now()) AS h`)).rows[0] as { h: Date }).h.getTime();
    const before = await dbHour();
    const a = await stats(ok, 6);
    const after = await dbHour();
    assert.equal(a.hourly.length, 6);
    const hours = a.hourly.map((h) => Date.parse(h.hour));
    for (let i = 1; i < hours.length; i++) assert.equal(hours[i]! - hours[i - 1]!, 3_600_000);
    assert.ok([before, after].includes(hours.at(-1)!), `ending with the current hour, not ${a.hourly.at(-1)!.hour}`);
    const { rows } = await s.db.pool.query<{ hour: Date; n: number }>(
      `SELECT date_trunc('hour', a.started_at) AS hour, count(*)::int AS n
       FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.webhook_id = $1 GROUP BY 1`,
      [ok],
    );
    const started = new Map(rows.map((x) => [x.hour.getTime(), x.n]));
    assert.deepEqual(
      a.hourly.map((h) => h.attempts),
      hours.map((h) => started.get(h) ?? 0),
    );
    assert.equal(
      a.hourly.reduce((n, h) => n + h.attempts, 0),
      3,
    );
    assert.ok(a.hourly.filter((h) => h.attempts === 0).length >= 4, 'empty hours included');
  });

  it('an hour outside the window does not count (rollups backdated five hours)', async () => {
    const w = (await createWebhook(s, { url: `${r.url}${uniquePath('stats-old')}`, subs: [['COURSES', 'UPDATE']] })).id;
    const ev = await publish(s, 'COURSES', 'UPDATE', { id: 'old' });
    await waitForAttempts(s, deliveryFor(ev, w), 1);
    // Five hours before the database's current hour; set again if the top of an
    // hour passed before the window was read (it cannot pass twice in a run).
    let six: Stats;
    for (let tries = 0; ; tries++) {
      const { rows } = await s.db.pool.query<{ hour: Date }>(
        `UPDATE webhook_hourly_stats SET hour = date_trunc('hour', now()) - interval '5 hours'
         WHERE webhook_id = $1 RETURNING hour`,
        [w],
      );
      assert.equal((await stats(w, 5)).attempts, 0, 'five hours ago is not within the last five');
      six = await stats(w, 6);
      if (Date.parse(six.hourly[0]!.hour) === rows[0]!.hour.getTime() || tries === 1) break;
    }
    assert.equal(six.attempts, 1);
    assert.equal(six.hourly[0]!.attempts, 1, 'in the oldest hour of six');
  });

  it('refuses hours outside 1 to 720, naming the argument', async () => {
    for (const h of [0, 721]) {
      const res = await s.gql(STATS, { id: ok, h });
      assert.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
      assert.equal(res.errors?.[0]?.message, `hours: expected a whole number of hours from 1 to 720, got ${h}`);
    }
  });

  it('a page of webhooks with their stats reads the rollups and the queue index, never the attempt log (EXPLAIN)', async () => {
    const page = must(
      await s.gql('{ webhooks(first: 100) { edges { node { id stats { attempts pendingDeliveries } } } } }'),
      'webhooks',
    ).webhooks.edges as { node: { id: string; stats: { attempts: number } } }[];
    assert.ok(page.length >= 3);
    assert.equal(page.find((e) => e.node.id === bad)!.node.stats.attempts, 3);

    // The two statements the loader sends for the page, as sent, explained on the same database.
    const ids = Array.from({ length: 100 }, (_, i) => (i < page.length ? page[i]!.node.id : crypto.randomUUID()));
    const sent: pg.QueryConfig[] = [];
    const recorder = { query: (q: pg.QueryConfig) => (sent.push(q), Promise.resolve({ rows: [] })) };
    await hourlyStats(recorder as unknown as pg.Pool, ids, 24);
    await pendingOf(recorder as unknown as pg.Pool, ids);
    const client = await s.db.pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      for (const q of sent) {
        const { rows } = await client.query(`EXPLAIN ${q.text}`, q.values);
        const plan = rows.map((x: Record<string, string>) => x['QUERY PLAN']).join('\n');
        assert.doesNotMatch(plan, /delivery_attempts/, plan);
        assert.match(plan, /webhook_hourly_stats_pkey|delivery_queue_webhook/, plan);
      }
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });
});
