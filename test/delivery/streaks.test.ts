import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FailureStreaks } from '../../src/delivery/streaks.js';
import type { WebhookHealth } from '../../src/storage/sql/deliveries.js';
import type { CircuitState } from '../../src/domain/protection.js';

// The worker's own view of failure streaks, without a database: what it
// counts ahead of the attempt log, and what a written batch changes.

const health = (id: string, consecutive: number, circuit: CircuitState = 'CLOSED'): WebhookHealth => ({
  id,
  status: 'ACTIVE',
  failing_since: consecutive ? new Date() : null,
  consecutive_failures: consecutive,
  circuit_was: 'CLOSED',
  circuit,
});
const fail = (s: FailureStreaks, id: string, times: number) => {
  for (let i = 0; i < times; i++) s.answered(id, false);
};

describe('FailureStreaks', () => {
  it('trips at the threshold of answered failures, not before, and only that webhook', () => {
    const s = new FailureStreaks(10);
    assert.ok(s.empty);
    fail(s, 'w1', 9);
    fail(s, 'w2', 3);
    assert.ok(!s.tripping('w1') && !s.empty);
    fail(s, 'w1', 1);
    assert.ok(s.tripping('w1'));
    assert.ok(!s.tripping('w2'));
  });

  it('keeps the failures a written batch did not carry: the streak is the written one plus the unwritten', () => {
    const s = new FailureStreaks(10);
    fail(s, 'w1', 10);
    // The recorder wrote the first six; four more wait for the next batch.
    s.written(Array(6).fill('w1'), [health('w1', 6)]);
    assert.ok(s.tripping('w1'), 'six written and four answered are still ten');
    s.written(Array(4).fill('w1'), [health('w1', 10, 'OPEN')]);
    assert.ok(!s.tripping('w1') && s.empty, 'an open circuit is the send gate’s to enforce');
  });

  it('takes the database’s streak when another worker’s success reset it', () => {
    const s = new FailureStreaks(10);
    fail(s, 'w1', 10);
    s.written(Array(10).fill('w1'), [health('w1', 2)]);
    assert.ok(!s.tripping('w1'));
    fail(s, 'w1', 7);
    assert.ok(!s.tripping('w1'));
    fail(s, 'w1', 1);
    assert.ok(s.tripping('w1'), 'two written and eight answered');
  });

  it('a success answered here clears the streak; a batch without this webhook’s failures leaves it alone', () => {
    const s = new FailureStreaks(3);
    fail(s, 'w1', 3);
    s.written(['w2'], [health('w2', 1)]);
    assert.ok(s.tripping('w1'));
    s.answered('w1', true);
    assert.ok(!s.tripping('w1'));
    s.written(Array(3).fill('w1'), [health('w1', 0)]);
    assert.ok(s.empty, 'nothing is kept for a webhook that recovered');
  });
});
