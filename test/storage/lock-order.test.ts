import { after, before, describe, it } from 'node:test';
import { DEFAULT_ACCOUNT_ID, EVERY_ACCOUNT } from '../../src/domain/accounts.js';
import assert from 'node:assert/strict';
import pg from 'pg';
import { recordAttempts, redeliver, type AttemptRecord } from '../../src/storage/sql/deliveries.js';
import { createWebhook, eventually, must, publish, setPaused, startServer, type TestServer } from '../kit/index.js';

// Every statement that locks several delivery_queue rows locks them in
// delivery_id order (the attempt log, publishing's and replay's tails,
// requeue), so two of them can never each hold a row the other waits for.
// Shown without racing: a row of the higher id is held by a blocker; a
// statement that locks in order has then already locked the lower one, which
// a NOWAIT probe finds taken. Locking in any other order leaves it free.

describe('storage: queue rows are locked in delivery_id order', () => {
  let s: TestServer;
  let blocker: pg.Client;
  let probe: pg.Client;
  let webhookId: string;

  before(async () => {
    s = await startServer('st_lock_order', { env: { HOOKLINE_WORKER: 'false' } });
    blocker = new pg.Client({ connectionString: s.db.url });
    probe = new pg.Client({ connectionString: s.db.url });
    await Promise.all([blocker.connect(), probe.connect()]);
    const w = await createWebhook(s, {
      url: 'http://127.0.0.1:9/',
      subs: [['COURSES', 'UPDATE']],
      ordering: 'PER_OBJECT',
    });
    webhookId = w.id;
    await setPaused(s, webhookId, true);
  });
  after(async () => {
    await Promise.all([blocker.end(), probe.end()]);
    await s.stop();
  });

  /** Publishes for `later` first and `earlier` second: their object keys sort the other way round from their ids. */
  async function queued(earlier: string, later: string): Promise<{ low: string; high: string }> {
    const first = await publish(s, 'COURSES', 'UPDATE', { id: later });
    const second = await publish(s, 'COURSES', 'UPDATE', { id: earlier });
    const [low, high] = [first.deliveries[0]!.id, second.deliveries[0]!.id].sort();
    return { low: low!, high: high! };
  }

  /**
   * Runs `statement` while the blocker holds row `high` (of `table`, the queue by default); resolves with
   * whether queue row `low` was locked meanwhile.
   */
  async function lowLockedWhileBlocked(
    high: string,
    low: string,
    statement: () => Promise<unknown>,
    held: 'delivery_queue WHERE delivery_id' | 'deliveries WHERE id' = 'delivery_queue WHERE delivery_id',
  ): Promise<boolean> {
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM ${held} = $1 FOR UPDATE`, [high]);
    const running = statement();
    try {
      await eventually(
        async () =>
          (
            await probe.query(
              `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            )
          ).rowCount! > 0,
        5_000,
        'the statement waiting for the blocked row',
      );
      const taken = await probe
        .query('SELECT 1 FROM delivery_queue WHERE delivery_id = $1 FOR UPDATE NOWAIT', [low])
        .then(
          () => false,
          (e: { code?: string }) => e.code === '55P03',
        );
      return taken;
    } finally {
      await blocker.query('ROLLBACK');
      await running;
    }
  }

  it('the attempt log, whatever the order of its batch', async () => {
    const { low, high } = await queued('lock-a', 'lock-b');
    await s.db.pool.query('UPDATE delivery_queue SET attempt_count = 1 WHERE delivery_id = ANY($1::uuid[])', [
      [low, high],
    ]);
    const { rows } = await s.db.pool.query<{ delivery_id: string; event_id: string }>(
      'SELECT delivery_id, event_id FROM delivery_queue WHERE delivery_id = ANY($1::uuid[])',
      [[low, high]],
    );
    const rec = (id: string): AttemptRecord => ({
      deliveryId: id,
      webhookId,
      accountId: DEFAULT_ACCOUNT_ID,
      eventId: rows.find((r) => r.delivery_id === id)!.event_id,
      attemptNumber: 1,
      outcome: 'SUCCESS',
      responseStatus: 200,
      responseBody: null,
      errorMessage: null,
      durationMs: 1,
      startedAt: new Date(),
      nextStatus: 'SUCCEEDED',
      nextAttemptAt: null,
    });
    assert.equal(await lowLockedWhileBlocked(high, low, () => recordAttempts(s.db.pool, [rec(high), rec(low)])), true);
  });

  it("publishing's tails, whatever the order of its events", async () => {
    const { low, high } = await queued('lock-c', 'lock-d');
    const publishBoth = async () =>
      must(
        await s.gql(
          `mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }`,
          {
            inputs: [
              { resource: 'COURSES', action: 'UPDATE', payload: { id: 'lock-c' } },
              { resource: 'COURSES', action: 'UPDATE', payload: { id: 'lock-d' } },
            ],
          },
          'PUBLISHER',
        ),
        'publishEvents',
      );
    assert.equal(await lowLockedWhileBlocked(high, low, publishBoth), true);
  });

  it('a redelivery locks the queue row before the log row, as the attempt log does', async () => {
    const { low } = await queued('lock-e', 'lock-f');
    assert.equal(
      await lowLockedWhileBlocked(low, low, () => redeliver(s.db.pool, low, EVERY_ACCOUNT), 'deliveries WHERE id'),
      true,
    );
  });
});
