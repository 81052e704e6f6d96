import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ExecutionResult } from 'graphql';
import { SlowConsumerError } from '../../src/feed/bounded-pubsub.js';
import { SharedSubscriptions, type Started } from '../../src/feed/shared-subscriptions.js';

// One execution per distinct subscription, shared by its subscribers: the
// rules, with a hand-driven source standing in for graphql's subscribe().

/** A source whose results the test pushes; counts how often it was started and whether it was closed. */
function source() {
  const pending: ((r: IteratorResult<ExecutionResult>) => void)[] = [];
  const queued: ExecutionResult[] = [];
  const state = { started: 0, closed: false };
  const start = (): Started => {
    state.started++;
    return {
      [Symbol.asyncIterator]: () => ({
        next: () =>
          queued.length
            ? Promise.resolve({ value: queued.shift()!, done: false })
            : new Promise<IteratorResult<ExecutionResult>>((r) => pending.push(r)),
        return: () => {
          state.closed = true;
          for (const p of pending.splice(0)) p({ value: undefined, done: true });
          return Promise.resolve({ value: undefined, done: true as const });
        },
      }),
    };
  };
  const emit = (n: number) => {
    const value = { data: { n } };
    const p = pending.shift();
    if (p) p({ value, done: false });
    else queued.push(value);
  };
  return { start, emit, state };
}

const tick = () => new Promise((r) => setImmediate(r));
const next = async (it: Started) =>
  (await (it as AsyncIterableIterator<ExecutionResult>).next()).value as ExecutionResult;

describe('shared subscription executions', () => {
  it('subscribers of one key share one execution and each get every result; another key gets its own', async () => {
    const shared = new SharedSubscriptions(10);
    const a = source();
    const b = source();
    const s1 = await shared.join('k', a.start);
    const s2 = await shared.join('k', a.start);
    const s3 = await shared.join('other', b.start);
    assert.equal(a.state.started, 1, 'one execution for both');
    assert.equal(shared.executions, 2);
    assert.equal(shared.subscribers, 3);
    a.emit(1);
    b.emit(9);
    assert.deepEqual(await next(s1), { data: { n: 1 } });
    assert.deepEqual(await next(s2), { data: { n: 1 } });
    assert.deepEqual(await next(s3), { data: { n: 9 } });
  });

  it('the execution ends with its last subscriber, and a new one starts a new execution', async () => {
    const shared = new SharedSubscriptions(10);
    const a = source();
    const s1 = (await shared.join('k', a.start)) as AsyncIterableIterator<ExecutionResult>;
    const s2 = (await shared.join('k', a.start)) as AsyncIterableIterator<ExecutionResult>;
    await tick();
    await s1.return!();
    assert.equal(a.state.closed, false, 'one subscriber is still there');
    await s2.return!();
    assert.equal(a.state.closed, true);
    assert.equal(shared.executions, 0);
    await shared.join('k', a.start);
    assert.equal(a.state.started, 2);
  });

  it('a subscriber that stops reading is dropped with SlowConsumerError past its buffer; the others read on', async () => {
    const shared = new SharedSubscriptions(3);
    const a = source();
    const slow = await shared.join('k', a.start);
    const fast = await shared.join('k', a.start);
    await tick();
    for (let n = 1; n <= 5; n++) {
      a.emit(n);
      assert.deepEqual(await next(fast), { data: { n } });
    }
    await assert.rejects((slow as AsyncIterableIterator<ExecutionResult>).next(), SlowConsumerError);
    assert.equal(shared.subscribers, 1);
    a.emit(6);
    assert.deepEqual(await next(fast), { data: { n: 6 } });
    assert.equal(a.state.closed, false);
  });

  it('a start that answers with errors gives them to every subscriber waiting for it, and keeps nothing', async () => {
    const shared = new SharedSubscriptions(10);
    const refused: ExecutionResult = { errors: [] };
    let starts = 0;
    const start = () => {
      starts++;
      return Promise.resolve(refused);
    };
    const [x, y] = await Promise.all([shared.join('k', start), shared.join('k', start)]);
    assert.equal(x, refused);
    assert.equal(y, refused);
    assert.equal(starts, 1);
    await tick();
    assert.equal(shared.executions, 0);
  });
});
