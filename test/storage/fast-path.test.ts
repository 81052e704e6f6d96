import { after, before, describe, it } from 'node:test';
import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import assert from 'node:assert/strict';
import pg from 'pg';
import { v7 as uuidv7 } from 'uuid';
import { claimDue } from '../../src/storage/sql/deliveries.js';
import { DUE_CHANNEL } from '../../src/storage/sql/channels.js';
import { insertEvents, type FastClaim, type NewEvent } from '../../src/storage/sql/events.js';
import { freshDatabase, type TestDatabase } from '../kit/index.js';

// The publishing statement's fast path: it claims, for the worker of its own
// process, what that worker can take, by the claim's rules, and hands it over
// ready to send; the rest stays due for any worker, announced by NOTIFY.

const event = (id: string, resource = 'USERS', action = 'CREATE'): NewEvent => ({
  id: uuidv7(),
  accountId: DEFAULT_ACCOUNT_ID,
  resource,
  action,
  type: `${resource === 'USERS' ? 'user' : 'course'}.${action === 'CREATE' ? 'created' : 'updated'}`,
  payload: JSON.stringify({ id }),
  occurredAt: null,
  idempotencyKey: null,
});

const room = (over: Partial<FastClaim> = {}): FastClaim => ({
  limit: 100,
  perWebhookCap: 40,
  busyWebhooks: [],
  busyCounts: [],
  saturated: [],
  perAccountCap: 1000,
  busyAccounts: [],
  accountCounts: [],
  leaseMs: 60_000,
  ...over,
});

describe('the fast path of the publishing statement', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('fast_path');
  });
  after(async () => {
    await db.close();
  });

  async function webhook(opts: { status?: string; ordering?: string; resource?: string } = {}): Promise<string> {
    const { rows } = await db.pool.query<{ id: string }>(
      `WITH w AS (INSERT INTO webhooks (account_id, name, destination_url, status, ordering, hmac_secret)
                  VALUES ('${DEFAULT_ACCOUNT_ID}', 'fast', 'https://example.com/hook', $1, $2, 'sealed-secret') RETURNING id)
       INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action)
       SELECT '${DEFAULT_ACCOUNT_ID}', id, $3, 'CREATE' FROM w RETURNING webhook_id AS id`,
      [opts.status ?? 'ACTIVE', opts.ordering ?? 'NONE', opts.resource ?? 'USERS'],
    );
    return rows[0]!.id;
  }
  const queue = async (webhookId: string) =>
    (
      await db.pool.query<{ attempt_count: number; leased: boolean }>(
        `SELECT attempt_count, coalesce(next_attempt_at > now() + interval '30 seconds', false) AS leased FROM delivery_queue WHERE webhook_id = $1`,
        [webhookId],
      )
    ).rows;
  const clear = () => db.pool.query('DELETE FROM delivery_queue');

  it('claims what the worker can take and returns it ready to send, the same body a claim would build', async () => {
    await clear();
    const w = await webhook();
    const [row] = await insertEvents(db.pool, [event('f1')], room());
    assert.equal(row!.claimed.length, 1);
    const c = row!.claimed[0]!;
    assert.equal(c.webhook_id, w);
    assert.equal(c.event_id, row!.id);
    assert.equal(c.attempt_count, 1, 'the fencing token of this claim');
    assert.equal(c.send, true);
    assert.equal(c.hmac_secret, 'sealed-secret');
    assert.equal(c.destination_url, 'https://example.com/hook');
    assert.deepEqual(await queue(w), [{ attempt_count: 1, leased: true }]);
    // A claim after the lease would build the body from the same row: byte for byte the same.
    await db.pool.query(`UPDATE delivery_queue SET next_attempt_at = now(), attempt_count = 0 WHERE webhook_id = $1`, [
      w,
    ]);
    const [again] = (await claimDue(db.pool, room({ limit: 10 }))).rows;
    assert.equal(again!.body, c.body);
    assert.deepEqual(JSON.parse(c.body).data, { id: 'f1' });
  });

  it('follows the claim’s rules: the limit, the per-webhook cap counting what is held, saturated webhooks skipped', async () => {
    await clear();
    await db.pool.query(`UPDATE webhooks SET deleted_at = now()`);
    const a = await webhook();
    const b = await webhook();
    const c = await webhook();
    const rows = await insertEvents(
      db.pool,
      Array.from({ length: 5 }, (_, i) => event(`r${i}`)),
      room({ limit: 7, perWebhookCap: 4, busyWebhooks: [a], busyCounts: [2], saturated: [c] }),
    );
    const claimed = rows.flatMap((r) => r.claimed);
    const per = (w: string) => claimed.filter((x) => x.webhook_id === w).length;
    assert.equal(per(a), 2, 'a holds 2 already: 2 more reach its cap of 4');
    assert.equal(per(b), 4, 'b: its cap');
    assert.equal(per(c), 0, 'c is saturated');
    assert.ok(claimed.length <= 7);
    const left = await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM delivery_queue WHERE attempt_count = 0 AND next_attempt_at <= now()`,
    );
    assert.equal(left.rows[0]!.n, 15 - claimed.length, 'the rest is due for any worker');
  });

  it('never claims for a paused or PER_OBJECT webhook, and claims nothing without room', async () => {
    await clear();
    await db.pool.query(`UPDATE webhooks SET deleted_at = now()`);
    const paused = await webhook({ status: 'PAUSED' });
    const ordered = await webhook({ ordering: 'PER_OBJECT' });
    const [row] = await insertEvents(db.pool, [event('p1')], room());
    assert.deepEqual(row!.claimed, []);
    assert.deepEqual(await queue(paused), [{ attempt_count: 0, leased: false }]);
    assert.deepEqual(await queue(ordered), [{ attempt_count: 0, leased: false }]);
    const plain = await webhook();
    const [none] = await insertEvents(db.pool, [event('p2')]);
    assert.deepEqual(none!.claimed, [], 'no room given: nothing claimed');
    assert.deepEqual(await queue(plain), [{ attempt_count: 0, leased: false }]);
  });

  it('notifies other workers only of what it left due', async () => {
    await clear();
    await db.pool.query(`UPDATE webhooks SET deleted_at = now()`);
    await webhook();
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    let heard = 0;
    listener.on('notification', (n) => n.channel === DUE_CHANNEL && heard++);
    await listener.query(`LISTEN ${DUE_CHANNEL}`);
    try {
      await insertEvents(db.pool, [event('n1')], room());
      await insertEvents(db.pool, [event('n2')]);
      // A round trip on the listener's connection: notifications sent before it have arrived.
      await listener.query('SELECT 1');
      assert.equal(heard, 1, 'only the publish that left a delivery due');
    } finally {
      await listener.end();
    }
  });
});
