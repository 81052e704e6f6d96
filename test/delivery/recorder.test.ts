import { after, before, describe, it } from 'node:test';
import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { AttemptRecorder } from '../../src/delivery/recorder.js';
import { createLogger } from '../../src/logger.js';
import type { AttemptRecord } from '../../src/storage/sql/deliveries.js';
import { createWebhook, deliveryFor, publish, setPaused, startServer, type TestServer } from '../kit/index.js';

// The attempt log's writer (delivery/recorder.ts) against a real database: a
// batch the database refuses for what is in it is split until the attempt at
// fault is alone, and only that one is dropped; a failing release of the next
// ordered delivery neither fails nor repeats the batch it follows.

describe('delivery: the attempt recorder', () => {
  let s: TestServer;
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('info', { write: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) });

  before(async () => {
    s = await startServer('dlv_recorder', { env: { HOOKLINE_WORKER: 'false' } });
  });
  after(() => s.stop());

  /** Deliveries of a paused webhook, each claimed once (queue attempt_count 1), never sent. */
  async function deliveries(n: number, ordering: 'NONE' | 'PER_OBJECT' = 'NONE'): Promise<AttemptRecord[]> {
    const w = await createWebhook(s, { url: 'http://127.0.0.1:9/', subs: [['COURSES', 'UPDATE']], ordering });
    await setPaused(s, w.id, true);
    const out: AttemptRecord[] = [];
    for (let i = 0; i < n; i++) {
      const e = await publish(s, 'COURSES', 'UPDATE', { id: `rec-${ordering}-${i % 2}` });
      const id = deliveryFor(e, w.id);
      await s.db.pool.query('UPDATE delivery_queue SET attempt_count = 1 WHERE delivery_id = $1', [id]);
      out.push({
        deliveryId: id,
        webhookId: w.id,
        accountId: DEFAULT_ACCOUNT_ID,
        eventId: e.id,
        attemptNumber: 1,
        outcome: 'SUCCESS',
        responseStatus: 200,
        responseBody: 'ok',
        errorMessage: null,
        durationMs: 3,
        startedAt: new Date(),
        nextStatus: 'SUCCEEDED',
        nextAttemptAt: null,
      });
    }
    return out;
  }

  const attemptsOf = async (ids: string[]) =>
    (
      await s.db.pool.query<{ delivery_id: string }>(
        'SELECT delivery_id FROM delivery_attempts WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id',
        [ids],
      )
    ).rows.map((r) => r.delivery_id);

  it('drops only the attempt the database refuses; the rest of its batch is written', async () => {
    const recs = await deliveries(5);
    // An outcome the table's CHECK refuses (23514): a bug's attempt, not the database being away.
    recs[2] = { ...recs[2]!, outcome: 'NOT_AN_OUTCOME' as AttemptRecord['outcome'] };
    const written: string[] = [];
    const recorder = new AttemptRecorder(s.db.pool, log, (batch) =>
      written.push(...batch.map((b) => b.rec.deliveryId)),
    );
    const results = await Promise.all(recs.map((r) => recorder.record(r)));
    assert.deepEqual(
      results.map((r) => r.applied),
      [true, true, false, true, true],
    );
    const good = recs.filter((_, i) => i !== 2).map((r) => r.deliveryId);
    assert.deepEqual(await attemptsOf(recs.map((r) => r.deliveryId)), [...good].sort());
    assert.deepEqual(written.sort(), [...good].sort(), 'the feed hears of the written ones only');
    assert.ok(
      lines.some((l) => l.deliveryId === recs[2]!.deliveryId && l.level === 50),
      'the dropped one is logged',
    );
  });

  it('a failing release after the batch is logged, not retried with the batch: each attempt is written once', async () => {
    const recs = await deliveries(2, 'PER_OBJECT');
    const pool = s.db.pool;
    const flaky = Object.create(pool) as pg.Pool;
    flaky.query = ((cfg: unknown, values?: unknown) =>
      (cfg as { name?: string }).name === 'hookline-release-next'
        ? Promise.reject(new Error('connection reset by test'))
        : pool.query(cfg as pg.QueryConfig, values as unknown[])) as pg.Pool['query'];
    const recorder = new AttemptRecorder(flaky, log, () => undefined);
    const results = await Promise.all(recs.map((r) => recorder.record(r)));
    await recorder.drain();
    assert.deepEqual(
      results.map((r) => r.applied),
      [true, true],
    );
    assert.deepEqual(await attemptsOf(recs.map((r) => r.deliveryId)), recs.map((r) => r.deliveryId).sort());
    assert.ok(lines.some((l) => String(l.msg).includes('releasing the next ordered deliveries failed')));
  });
});
