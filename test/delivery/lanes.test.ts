import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Lanes, type LaneItem, type LaneLimits } from '../../src/delivery/lanes.js';
import { LANE_DEPTH } from '../../src/domain/delivery-policy.js';

// The worker's lane bookkeeping, without a database or a network: claim
// sizing, saturation, the refill rule and room coming back after a full pass.

const limits = (over: Partial<LaneLimits> = {}): LaneLimits => ({
  concurrency: 20,
  perAccountConcurrency: 20,
  perWebhook: 2,
  maxHeld: 40,
  perAccount: 40,
  maxHeldBytes: 1_000_000,
  claimBatch: 100,
  ...over,
});

let n = 0;
const item = (webhookId: string, bytes = 10, accountId = 'acct'): LaneItem => ({
  id: `d${++n}`,
  webhookId,
  accountId,
  bytes,
});
const items = (webhookId: string, count: number, accountId = 'acct') =>
  Array.from({ length: count }, () => item(webhookId, 10, accountId));

describe('Lanes', () => {
  it('sizes the first claim by the room left and the batch size, with nobody busy', () => {
    const lanes = new Lanes(limits({ maxHeld: 40, claimBatch: 100 }));
    assert.deepEqual(lanes.sizing(), {
      limit: 40,
      perWebhookCap: 2 * LANE_DEPTH,
      busyWebhooks: [],
      busyCounts: [],
      saturated: [],
      perAccountCap: 40,
      busyAccounts: [],
      accountCounts: [],
    });
    assert.equal(new Lanes(limits({ maxHeld: 400, claimBatch: 100 })).sizing()!.limit, 100);
  });

  it('starts at most perWebhook per lane and concurrency in all; the rest wait in their lanes', () => {
    const lanes = new Lanes(limits({ concurrency: 3, perWebhook: 2 }));
    const sizing = lanes.sizing()!;
    lanes.accept(sizing, [...items('a', 4), ...items('b', 4)]);
    const started = lanes.startable();
    assert.equal(started.length, 3);
    assert.deepEqual(
      started.map((i) => i.webhookId),
      ['a', 'a', 'b'],
    );
    assert.equal(lanes.inFlight, 3);
    assert.equal(lanes.heldCount, 8);
    assert.deepEqual(lanes.startable(), [], 'nothing more starts while every slot is taken');
  });

  it('gives out at most the chunk asked for, the next call the rest, accounts still in turn', () => {
    const lanes = new Lanes(limits({ concurrency: 20, perWebhook: 10 }));
    lanes.accept(lanes.sizing()!, [...items('a', 6, 'A'), ...items('b', 6, 'B')]);
    const first = lanes.startable(4);
    assert.deepEqual(
      first.map((i) => i.accountId),
      ['A', 'B', 'A', 'B'],
    );
    assert.equal(lanes.inFlight, 4);
    assert.equal(lanes.startable(100).length, 8);
    assert.equal(lanes.inFlight, 12);
  });

  it('reports busy lanes to the next claim, and skips the saturated ones while scanning', () => {
    const lanes = new Lanes(limits({ perWebhook: 2 }));
    const depth = 2 * LANE_DEPTH;
    lanes.accept(lanes.sizing()!, [...items('full', depth), ...items('some', 3)]);
    lanes.startable();
    const next = lanes.sizing()!;
    assert.deepEqual(Object.fromEntries(next.busyWebhooks.map((id, i) => [id, next.busyCounts[i]])), {
      full: depth,
      some: 3,
    });
    assert.deepEqual(next.saturated, ['full']);
    assert.equal(next.limit, 40 - depth - 3, 'the room left');
  });

  it('asks for another claim at once when the claim came back full, or filled a lane to the brim', () => {
    const lanes = new Lanes(limits({ maxHeld: 40, claimBatch: 5 }));
    assert.equal(lanes.accept(lanes.sizing()!, items('a', 5)), true, 'full claim: more may be due');
    const fresh = new Lanes(limits({ claimBatch: 100 }));
    assert.equal(fresh.accept(fresh.sizing()!, items('a', 2 * LANE_DEPTH)), true, 'a lane filled to the brim');
    const quiet = new Lanes(limits({ claimBatch: 100 }));
    assert.equal(quiet.accept(quiet.sizing()!, items('a', 3)), false, 'a short claim: nothing more is due');
  });

  it('refills a lane once its waiting room fell to half, only if more are known to be due', () => {
    const perWebhook = 2;
    const depth = perWebhook * LANE_DEPTH; // 8: 2 in flight, 6 waiting
    /** Answers every in-flight delivery one by one, starting the next each time; what each answer asked for. */
    const drain = (lanes: Lanes<LaneItem>): boolean[] => {
      const inFlight = lanes.startable();
      const wakes: boolean[] = [];
      while (inFlight.length) {
        wakes.push(lanes.finished(inFlight.shift()!));
        inFlight.push(...lanes.startable());
      }
      return wakes;
    };

    const full = new Lanes(limits({ perWebhook }));
    full.accept(full.sizing()!, items('a', depth)); // to the brim: more are probably due
    // Waiting 6, 5, 4 at the first three answers; 3 (half of the waiting room) at the fourth.
    assert.deepEqual(drain(full), [false, false, false, true, true, true, true, true]);

    const short = new Lanes(limits({ perWebhook }));
    short.accept(short.sizing()!, items('b', depth - 1)); // not to the brim: nothing more is due
    assert.ok(
      drain(short).every((w) => !w),
      'no refill claims for a lane whose claim was short',
    );
  });

  it('takes what the publishing statement claimed without touching what the claims know is still due', () => {
    const perWebhook = 2;
    const depth = perWebhook * LANE_DEPTH;
    const lanes = new Lanes(limits({ perWebhook }));
    lanes.accept(lanes.sizing()!, items('a', depth)); // to the brim: more of a's are due
    lanes.take([...items('a', 1), ...items('b', 3)]);
    assert.equal(lanes.heldCount, depth + 4);
    const inFlight = lanes.startable();
    assert.deepEqual(
      inFlight.map((i) => i.webhookId),
      ['a', 'a', 'b', 'b'],
    );
    // a's hint survived: answering a's deliveries until its waiting room is half empty asks for a claim.
    const wakes: boolean[] = [];
    while (inFlight.some((i) => i.webhookId === 'a')) {
      const [done] = inFlight.splice(
        inFlight.findIndex((i) => i.webhookId === 'a'),
        1,
      );
      wakes.push(lanes.finished(done!));
      inFlight.push(...lanes.startable());
    }
    assert.ok(wakes.includes(true), 'a refill claim for a');
  });

  it('after a pass that ran out of room, asks for a claim once half of the room is back', () => {
    const lanes = new Lanes(limits({ concurrency: 10, perWebhook: 10, maxHeld: 10 }));
    const claimed = Array.from({ length: 10 }, (_, i) => item(`w${i}`));
    lanes.accept(lanes.sizing()!, claimed);
    const started = lanes.startable();
    assert.equal(lanes.sizing(), null, 'no room: the pass stops');
    const wakes = started.map((i) => lanes.finished(i));
    // held 10 → 9 … : half of maxHeld (5) is back at the fifth answer.
    assert.deepEqual(wakes.slice(0, 5), [false, false, false, false, true]);
  });

  it('stops claiming while too many bytes are held, or while attempts wait to be written', () => {
    const lanes = new Lanes(limits({ maxHeldBytes: 100 }));
    lanes.accept(lanes.sizing()!, [item('a', 60), item('a', 60)]);
    assert.equal(lanes.sizing(), null, 'over the byte bound');
    const other = new Lanes(limits());
    assert.equal(other.sizing(true), null, 'blocked by the recorder');
    assert.notEqual(other.sizing(false), null);
  });

  it('hands back every waiting delivery at shutdown, and none of those in flight', () => {
    const lanes = new Lanes(limits({ concurrency: 2, perWebhook: 1 }));
    lanes.accept(lanes.sizing()!, [...items('a', 3), ...items('b', 3)]);
    const started = lanes.startable();
    const waiting = lanes.takeWaiting();
    assert.equal(started.length, 2);
    assert.equal(waiting.length, 4);
    assert.deepEqual(new Set([...started, ...waiting].map((i) => i.id)).size, 6, 'each delivery exactly once');
    assert.equal(lanes.heldCount, 2, 'only the two in flight are still held');
  });
});
