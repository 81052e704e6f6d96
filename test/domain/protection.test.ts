import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HooklineError } from '../../src/domain/errors.js';
import { decide, decideProbe } from '../../src/domain/outcome.js';
import {
  MAX_LIMIT,
  RATE_WINDOW_MS,
  START_GRACE_MS,
  validLimit,
  validLimitChange,
} from '../../src/domain/protection.js';

const policy = { schedule: [5_000, 300_000], jitter: 0 };
const NOW = Date.UTC(2026, 11, 7);

/** The field and message of the BAD_USER_INPUT `fn` throws. */
function refusal(fn: () => unknown): { field: string; message: string } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HooklineError);
    assert.equal(e.code, 'BAD_USER_INPUT');
    return { field: String(e.field), message: e.message };
  }
  assert.fail('expected a refusal');
}

describe('limits as given', () => {
  it('at creation: omitted or null is no limit; 1 to MAX_LIMIT kept; anything else refused naming the field', () => {
    assert.equal(validLimit('input.rateLimit', undefined), null);
    assert.equal(validLimit('input.rateLimit', null), null);
    assert.equal(validLimit('input.rateLimit', 1), 1);
    assert.equal(validLimit('input.rateLimit', MAX_LIMIT), MAX_LIMIT);
    for (const bad of [0, -1, MAX_LIMIT + 1, 2.5, Number.NaN, 2 ** 31]) {
      const r = refusal(() => validLimit('input.maxInFlight', bad));
      assert.equal(r.field, 'input.maxInFlight');
      assert.match(r.message, /whole number from 1 to 1000/);
    }
  });

  it('in an update: omitted or null keeps, 0 removes, 1 to MAX_LIMIT sets', () => {
    assert.equal(validLimitChange('input.rateLimit', undefined), undefined);
    assert.equal(validLimitChange('input.rateLimit', null), undefined);
    assert.equal(validLimitChange('input.rateLimit', 0), null);
    assert.equal(validLimitChange('input.rateLimit', 7), 7);
    for (const bad of [-1, MAX_LIMIT + 1, 0.5]) {
      assert.match(refusal(() => validLimitChange('input.rateLimit', bad)).message, /or 0 to remove the limit/);
    }
  });

  it('the rate window covers a second, the start grace and the way to the destination', () => {
    assert.ok(RATE_WINDOW_MS >= 1000 + START_GRACE_MS);
  });
});

describe('a probe', () => {
  it('that fails keeps its delivery PENDING and parked, however late in its schedule', () => {
    const last = decide({ kind: 'response', status: 500 }, 3, policy, NOW, 0.5);
    assert.equal(last.deliveryStatus, 'FAILED', 'the third attempt was the last');
    const probed = decideProbe(last);
    assert.equal(probed.deliveryStatus, 'PENDING');
    assert.equal(probed.nextAttemptAt, null);
    assert.equal(probed.outcome, 'HTTP_ERROR', 'recorded as what it was');
  });

  it('that answers 410 still disables the webhook', () => {
    const gone = decideProbe(decide({ kind: 'response', status: 410 }, 1, policy, NOW, 0.5));
    assert.equal(gone.disableReason, 'endpoint answered 410 Gone');
  });

  it('that succeeds is a success', () => {
    const ok = decide({ kind: 'response', status: 204 }, 9, policy, NOW, 0.5);
    assert.deepEqual(decideProbe(ok), ok);
  });
});
