import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RetryPolicy } from '../../src/domain/backoff.js';
import {
  classify,
  decide,
  shouldDisableForFailures,
  type AttemptResult,
  type HealthPolicy,
} from '../../src/domain/outcome.js';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const policy: RetryPolicy = {
  schedule: [5 * SEC, 5 * MIN, 30 * MIN, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR],
  jitter: 0.2,
};
const MAX_DELAY = 10 * HOUR;
const now = Date.UTC(2025, 5, 1, 8, 30, 0);
const NOMINAL = 0.5;

const response = (status: number, retryAfter?: string): AttemptResult =>
  retryAfter === undefined ? { kind: 'response', status } : { kind: 'response', status, retryAfter };

function delayOf(d: { nextAttemptAt: Date | null }): number {
  assert.ok(d.nextAttemptAt instanceof Date, 'nextAttemptAt should be a Date');
  return d.nextAttemptAt.getTime() - now;
}

describe('decide: outcome table', () => {
  for (const status of [200, 201, 204, 299]) {
    it(`${status} → SUCCESS / SUCCEEDED, no retry`, () => {
      for (const attempt of [1, 4, policy.schedule.length + 1]) {
        const d = decide(response(status), attempt, policy, now, NOMINAL);
        assert.deepEqual(d, {
          outcome: 'SUCCESS',
          deliveryStatus: 'SUCCEEDED',
          nextAttemptAt: null,
          disableReason: null,
        });
      }
    });
  }

  for (const status of [199, 300, 301, 302, 304, 307, 308]) {
    it(`${status} → HTTP_ERROR, retried per schedule (redirects are not followed)`, () => {
      const d = decide(response(status), 1, policy, now, NOMINAL);
      assert.equal(d.outcome, 'HTTP_ERROR');
      assert.equal(d.deliveryStatus, 'PENDING');
      assert.equal(delayOf(d), 5 * SEC);
      assert.equal(d.disableReason, null);
    });
  }

  it('410 → HTTP_ERROR with disableReason set', () => {
    const d = decide(response(410), 2, policy, now, NOMINAL);
    assert.equal(d.outcome, 'HTTP_ERROR');
    assert.equal(typeof d.disableReason, 'string');
    assert.ok(d.disableReason!.length > 0);
    assert.match(d.disableReason!, /410/);
  });

  it('410 on the last attempt still carries disableReason', () => {
    const d = decide(response(410), policy.schedule.length + 1, policy, now, NOMINAL);
    assert.equal(d.outcome, 'HTTP_ERROR');
    assert.equal(d.deliveryStatus, 'FAILED');
    assert.ok(d.disableReason);
  });

  it('only 410 sets disableReason', () => {
    for (const status of [400, 401, 403, 404, 409, 429, 500, 502, 503]) {
      assert.equal(decide(response(status), 1, policy, now, NOMINAL).disableReason, null, `status ${status}`);
    }
    for (const r of [{ kind: 'timeout' }, { kind: 'network' }, { kind: 'blocked' }] as AttemptResult[]) {
      assert.equal(decide(r, 1, policy, now, NOMINAL).disableReason, null, r.kind);
    }
  });

  for (const status of [429, 503]) {
    describe(`${status} with Retry-After`, () => {
      it('waits no sooner than Retry-After (delay-seconds)', () => {
        // Attempt 1 is normally followed by 5 s; the endpoint asks for 15 min.
        const d = decide(response(status, '900'), 1, policy, now, NOMINAL);
        assert.equal(d.outcome, 'HTTP_ERROR');
        assert.equal(d.deliveryStatus, 'PENDING');
        assert.equal(delayOf(d), 15 * MIN);
      });

      it('waits no sooner than Retry-After (HTTP-date)', () => {
        const at = new Date(now + 45 * MIN);
        const d = decide(response(status, at.toUTCString()), 2, policy, now, NOMINAL);
        assert.equal(d.deliveryStatus, 'PENDING');
        assert.equal(d.nextAttemptAt!.getTime(), at.getTime());
      });

      it('never goes sooner than the schedule when Retry-After is shorter', () => {
        const d = decide(response(status, '1'), 3, policy, now, NOMINAL);
        assert.equal(delayOf(d), 30 * MIN);
        const jittered = decide(response(status, '1'), 3, policy, now, 0);
        assert.equal(delayOf(jittered), 24 * MIN);
      });

      it('caps Retry-After at the longest scheduled delay', () => {
        const d = decide(response(status, '31536000'), 1, policy, now, NOMINAL);
        assert.equal(delayOf(d), MAX_DELAY);
        const far = decide(response(status, new Date(now + 30 * DAY).toUTCString()), 1, policy, now, NOMINAL);
        assert.equal(delayOf(far), MAX_DELAY);
      });

      it('ignores an unreadable Retry-After and uses the schedule', () => {
        const d = decide(response(status, 'later please'), 2, policy, now, NOMINAL);
        assert.equal(delayOf(d), 5 * MIN);
      });

      it('still fails on the last attempt, whatever Retry-After says', () => {
        const d = decide(response(status, '60'), policy.schedule.length + 1, policy, now, NOMINAL);
        assert.equal(d.deliveryStatus, 'FAILED');
        assert.equal(d.nextAttemptAt, null);
      });
    });
  }

  it('429 without Retry-After → retried per schedule', () => {
    const d = decide(response(429), 4, policy, now, NOMINAL);
    assert.equal(d.outcome, 'HTTP_ERROR');
    assert.equal(d.deliveryStatus, 'PENDING');
    assert.equal(delayOf(d), 2 * HOUR);
  });

  it('Retry-After is honoured only for 429 and 503', () => {
    for (const status of [500, 502, 404]) {
      const d = decide(response(status, '3600'), 1, policy, now, NOMINAL);
      assert.equal(delayOf(d), 5 * SEC, `status ${status}`);
    }
  });

  for (const status of [400, 401, 404, 422, 500, 502, 504, 599]) {
    it(`${status} → HTTP_ERROR, retried per schedule`, () => {
      const d = decide(response(status), 2, policy, now, NOMINAL);
      assert.equal(d.outcome, 'HTTP_ERROR');
      assert.equal(d.deliveryStatus, 'PENDING');
      assert.equal(delayOf(d), 5 * MIN);
      assert.equal(d.disableReason, null);
    });
  }

  it('timeout → TIMEOUT, retried', () => {
    const d = decide({ kind: 'timeout' }, 1, policy, now, NOMINAL);
    assert.deepEqual(d, {
      outcome: 'TIMEOUT',
      deliveryStatus: 'PENDING',
      nextAttemptAt: new Date(now + 5 * SEC),
      disableReason: null,
    });
  });

  it('network error → NETWORK_ERROR, retried', () => {
    const d = decide({ kind: 'network' }, 3, policy, now, NOMINAL);
    assert.deepEqual(d, {
      outcome: 'NETWORK_ERROR',
      deliveryStatus: 'PENDING',
      nextAttemptAt: new Date(now + 30 * MIN),
      disableReason: null,
    });
  });

  it('blocked destination → BLOCKED, retried', () => {
    const d = decide({ kind: 'blocked' }, 5, policy, now, NOMINAL);
    assert.deepEqual(d, {
      outcome: 'BLOCKED',
      deliveryStatus: 'PENDING',
      nextAttemptAt: new Date(now + 5 * HOUR),
      disableReason: null,
    });
  });

  it('applies jitter from the injected random', () => {
    assert.equal(delayOf(decide({ kind: 'timeout' }, 6, policy, now, 0)), 8 * HOUR);
    const high = delayOf(decide({ kind: 'timeout' }, 6, policy, now, 0.999999));
    assert.ok(high > 11.99 * HOUR && high <= 12 * HOUR, String(high));
  });

  describe('last attempt (attemptNumber = schedule length + 1)', () => {
    const last = policy.schedule.length + 1;
    const failures: AttemptResult[] = [
      response(500),
      response(404),
      response(301),
      response(429),
      response(503, '10'),
      { kind: 'timeout' },
      { kind: 'network' },
      { kind: 'blocked' },
    ];
    for (const r of failures) {
      const label = r.kind === 'response' ? `${r.status}` : r.kind;
      it(`${label} → FAILED, nextAttemptAt null`, () => {
        const d = decide(r, last, policy, now, NOMINAL);
        assert.equal(d.deliveryStatus, 'FAILED');
        assert.equal(d.nextAttemptAt, null);
        assert.equal(d.outcome, classify(r));
        assert.notEqual(d.outcome, 'SUCCESS');
      });
    }

    it('the attempt before the last is still retried, after the last delay', () => {
      const d = decide(response(500), last - 1, policy, now, NOMINAL);
      assert.equal(d.deliveryStatus, 'PENDING');
      assert.equal(delayOf(d), 10 * HOUR);
    });

    it('a success on the last attempt is still SUCCEEDED', () => {
      const d = decide(response(200), last, policy, now, NOMINAL);
      assert.equal(d.deliveryStatus, 'SUCCEEDED');
    });
  });
});

describe('classify', () => {
  it('maps each result kind', () => {
    assert.equal(classify(response(200)), 'SUCCESS');
    assert.equal(classify(response(299)), 'SUCCESS');
    assert.equal(classify(response(300)), 'HTTP_ERROR');
    assert.equal(classify(response(199)), 'HTTP_ERROR');
    assert.equal(classify({ kind: 'timeout' }), 'TIMEOUT');
    assert.equal(classify({ kind: 'network' }), 'NETWORK_ERROR');
    assert.equal(classify({ kind: 'blocked' }), 'BLOCKED');
  });
});

describe('shouldDisableForFailures', () => {
  const health: HealthPolicy = { disableAfterMs: 5 * DAY, minFailures: 10 };

  it('is false when failingSince is null, however many failures', () => {
    assert.equal(shouldDisableForFailures(null, 1000, now, health), false);
  });

  it('needs both the window elapsed and the minimum number of failures', () => {
    const longAgo = new Date(now - 6 * DAY);
    const recent = new Date(now - 1 * DAY);
    assert.equal(shouldDisableForFailures(longAgo, 10, now, health), true);
    assert.equal(shouldDisableForFailures(longAgo, 50, now, health), true);
    assert.equal(shouldDisableForFailures(longAgo, 9, now, health), false, 'window elapsed, too few failures');
    assert.equal(shouldDisableForFailures(recent, 50, now, health), false, 'many failures, window not elapsed');
    assert.equal(shouldDisableForFailures(recent, 3, now, health), false);
  });

  it('is inclusive at both boundaries', () => {
    const exactly = new Date(now - 5 * DAY);
    assert.equal(shouldDisableForFailures(exactly, 10, now, health), true);
    assert.equal(shouldDisableForFailures(new Date(now - 5 * DAY + 1), 10, now, health), false);
  });

  it('uses the injected now', () => {
    const since = new Date(now);
    assert.equal(shouldDisableForFailures(since, 10, now, health), false);
    assert.equal(shouldDisableForFailures(since, 10, now + 5 * DAY, health), true);
  });
});
