import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { claimDue, FIRST_ACCOUNT } from '../../src/storage/sql/deliveries.js';
import type { ClaimRequest } from '../../src/storage/sql/claim.js';
import { insertEvents } from '../../src/storage/sql/events.js';
import { Lanes, type LaneItem } from '../../src/delivery/lanes.js';
import { freshDatabase, type TestDatabase } from '../kit/db.js';

// Fairness between accounts (issue #19): one account's backlog must not delay
// another account's deliveries, neither in the claim (accounts served in
// turn from a cursor, each within its room in the worker) nor in the worker's
// lanes (a freed slot goes to the account that waited longest).

const req = (over: Partial<ClaimRequest> = {}): ClaimRequest => ({
  limit: 100,
  perWebhookCap: 100_000,
  busyWebhooks: [],
  busyCounts: [],
  saturated: [],
  perAccountCap: 100_000,
  busyAccounts: [],
  accountCounts: [],
  leaseMs: 60_000,
  ...over,
});

/** Account ids in a known order: the claim walks accounts by id. */
const accountId = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

describe('the claim serves accounts in turn', () => {
  let db: TestDatabase;
  const A = accountId(0xa0);
  const B = accountId(0xb0);
  const C = accountId(0xc0);

  before(async () => {
    db = await freshDatabase('claim_fairness');
    for (const id of [A, B, C]) {
      await db.pool.query(`INSERT INTO accounts (id, key, name) VALUES ($1, $2, $2)`, [id, `acct-${id.slice(-2)}`]);
    }
  });
  after(async () => {
    await db.close();
  });
  beforeEach(async () => {
    await db.pool.query('TRUNCATE delivery_queue, deliveries, events, webhook_subscriptions, webhooks CASCADE');
  });

  /** A webhook of the account subscribed to user.created. */
  async function webhook(account: string): Promise<string> {
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO webhooks (account_id, name, destination_url) VALUES ($1, 'w', 'http://destination.invalid/') RETURNING id`,
      [account],
    );
    await db.pool.query(
      `INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action) VALUES ($1, $2, 'USERS', 'CREATE')`,
      [account, rows[0]!.id],
    );
    return rows[0]!.id;
  }

  /** `count` deliveries for the account, due `agoSeconds` ago. */
  async function due(account: string, count: number, agoSeconds: number): Promise<void> {
    const events = Array.from({ length: count }, (_, i) => ({
      id: randomUUID(),
      accountId: account,
      resource: 'USERS',
      action: 'CREATE',
      type: 'user.created',
      payload: JSON.stringify({ id: `u${i}` }),
      occurredAt: null,
      idempotencyKey: null,
    }));
    for (let i = 0; i < events.length; i += 500) await insertEvents(db.pool, events.slice(i, i + 500));
    await db.pool.query(
      `UPDATE delivery_queue SET next_attempt_at = now() - $2 * interval '1 second'
       WHERE account_id = $1 AND next_attempt_at > now() - interval '1 second'`,
      [account, agoSeconds],
    );
  }

  const accountsOf = (rows: { account_id: string }[]) => rows.map((r) => r.account_id);

  it("a small account's deliveries are claimed beside a large account's older backlog, not after it", async () => {
    await webhook(A);
    await webhook(B);
    await due(A, 2000, 600);
    await due(B, 3, 1);
    const { rows } = await claimDue(db.pool, req({ limit: 10 }));
    assert.equal(rows.length, 10);
    assert.equal(accountsOf(rows).filter((a) => a === B).length, 3, "all of B's, in the first batch");
    assert.equal(accountsOf(rows).filter((a) => a === A).length, 7, "A's fill the rest: no room is left unused");
  });

  it('claims of one delivery each alternate between the accounts, the cursor carried from claim to claim', async () => {
    await webhook(A);
    await webhook(B);
    await webhook(C);
    await due(A, 50, 600);
    await due(B, 50, 300);
    await due(C, 50, 1);
    let cursor = FIRST_ACCOUNT;
    const order: string[] = [];
    for (let i = 0; i < 9; i++) {
      const claim = await claimDue(db.pool, req({ limit: 1 }), cursor);
      assert.equal(claim.rows.length, 1);
      order.push(claim.rows[0]!.account_id);
      cursor = claim.cursor;
    }
    assert.deepEqual(order, [A, B, C, A, B, C, A, B, C]);
  });

  it('an account at its room in the worker is skipped, and what it leaves goes to the others', async () => {
    await webhook(A);
    await webhook(B);
    await due(A, 200, 600);
    await due(B, 200, 1);
    const { rows } = await claimDue(
      db.pool,
      req({ limit: 50, perAccountCap: 40, busyAccounts: [A, B], accountCounts: [40, 10] }),
    );
    assert.deepEqual([...new Set(accountsOf(rows))], [B]);
    assert.equal(rows.length, 30, "B's room: 40 less the 10 it holds");
  });

  it('accounts with only later retries queued do not stall the turn: the cursor moves past them', async () => {
    // More such accounts than one claim looks at, all before the one with due work.
    await db.pool.query(
      `INSERT INTO delivery_queue (delivery_id, webhook_id, account_id, event_id, next_attempt_at)
       SELECT gen_random_uuid(), gen_random_uuid(), ('00000000-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
              gen_random_uuid(), now() + interval '1 hour'
       FROM generate_series(1, 150) n`,
    );
    await webhook(C);
    await due(C, 5, 1);
    let cursor = FIRST_ACCOUNT;
    let claimed = 0;
    let claims = 0;
    while (claimed === 0 && claims < 10) {
      const claim = await claimDue(db.pool, req(), cursor);
      claimed += claim.rows.length;
      cursor = claim.cursor;
      claims++;
    }
    assert.equal(claimed, 5);
    assert.ok(claims <= 3, `reached after ${claims} claims`);
  });

  it('with one account, a claim takes the oldest due deliveries first, as before accounts', async () => {
    const w = await webhook(A);
    await due(A, 30, 1);
    const { rows: order } = await db.pool.query<{ delivery_id: string }>(
      `SELECT delivery_id FROM delivery_queue WHERE webhook_id = $1 ORDER BY next_attempt_at, delivery_id LIMIT 12`,
      [w],
    );
    const { rows } = await claimDue(db.pool, req({ limit: 12 }));
    assert.deepEqual(rows.map((r) => r.id).sort(), order.map((r) => r.delivery_id).sort());
  });
});

describe('the worker starts deliveries of accounts in turn', () => {
  let n = 0;
  const item = (webhookId: string, accountId: string): LaneItem => ({ id: `d${++n}`, webhookId, accountId, bytes: 1 });
  const limits = {
    concurrency: 4,
    perAccountConcurrency: 4,
    perWebhook: 10,
    maxHeld: 100,
    perAccount: 60,
    maxHeldBytes: 1e9,
    claimBatch: 100,
  };

  it("a slot freed by one account's answer goes to the account that waited, however many of its webhooks are busy", () => {
    const lanes = new Lanes<LaneItem>(limits);
    const a = Array.from({ length: 40 }, (_, i) => item(`a${i % 8}`, 'A'));
    lanes.take(a);
    const first = lanes.startable();
    assert.deepEqual(
      first.map((i) => i.accountId),
      ['A', 'A', 'A', 'A'],
    );
    lanes.take([item('b0', 'B'), item('b0', 'B')]);
    assert.deepEqual(lanes.startable(), [], 'every slot is taken');
    lanes.finished(first[0]!);
    assert.deepEqual(
      lanes.startable().map((i) => i.accountId),
      ['B'],
    );
    lanes.finished(first[1]!);
    lanes.finished(first[2]!);
    assert.deepEqual(
      lanes.startable().map((i) => i.accountId),
      ['A', 'B'],
      'then in turn: A waited since B started',
    );
  });

  it('one account never takes the slots kept above its own concurrency: another account starts at once', () => {
    const lanes = new Lanes<LaneItem>({ ...limits, concurrency: 5, perAccountConcurrency: 4 });
    lanes.take(Array.from({ length: 40 }, (_, i) => item(`a${i % 8}`, 'A')));
    assert.equal(lanes.startable().length, 4, "A's own concurrency");
    assert.deepEqual(lanes.startable(), [], 'the fifth slot waits for another account');
    lanes.take([item('b0', 'B'), item('b0', 'B')]);
    assert.deepEqual(
      lanes.startable().map((i) => i.accountId),
      ['B'],
    );
  });

  it('an account reaching its share is reported to the claim, and asks for a claim again at half of it', () => {
    const lanes = new Lanes<LaneItem>({ ...limits, concurrency: 100, perAccountConcurrency: 100 });
    const a = Array.from({ length: 60 }, () => item('a', 'A'));
    lanes.take(a);
    lanes.take([item('b', 'B')]);
    const sizing = lanes.sizing()!;
    assert.equal(sizing.perAccountCap, 60);
    assert.deepEqual(Object.fromEntries(sizing.busyAccounts.map((id, i) => [id, sizing.accountCounts[i]])), {
      A: 60,
      B: 1,
    });
    assert.equal(sizing.limit, 100 - 61, 'the worker still has room: for other accounts');
    const started = lanes.startable();
    const wakes = started.filter((i) => i.accountId === 'A').map((i) => lanes.finished(i));
    // perWebhook 10: ten of A's in flight; A holds 60 → 50 after ten answers, above half of 60.
    assert.deepEqual(wakes, Array(10).fill(false));
    const more = [];
    for (let i = 0; i < 20; i++) {
      const next = lanes.startable().filter((x) => x.accountId === 'A');
      more.push(...next.map((x) => lanes.finished(x)));
    }
    assert.equal(more.indexOf(true), 19, 'the answer that brought A down to 30 held asks for a claim');
  });
});
