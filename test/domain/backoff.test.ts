import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRY_SCHEDULE, retryAfterMs, retryDelay, type RetryPolicy } from '../../src/domain/backoff.js';
import { parseDurationList } from '../../src/domain/duration.js';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

const policy: RetryPolicy = {
  schedule: [5 * SEC, 5 * MIN, 30 * MIN, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR],
  jitter: 0.2,
};

describe('retryDelay', () => {
  it('gives the nominal delay for random = 0.5', () => {
    policy.schedule.forEach((nominal, i) => {
      assert.equal(retryDelay(policy, i + 1, 0.5), nominal, `attempt ${i + 1}`);
    });
  });

  it('uses schedule[attemptNumber - 1] (attempt 1 is followed by the first delay)', () => {
    assert.equal(retryDelay(policy, 1, 0.5), 5 * SEC);
    assert.equal(retryDelay(policy, 2, 0.5), 5 * MIN);
    assert.equal(retryDelay(policy, 4, 0.5), 2 * HOUR);
  });

  it('random = 0 gives nominal - 20 %', () => {
    assert.equal(retryDelay(policy, 1, 0), 4 * SEC);
    assert.equal(retryDelay(policy, 6, 0), 8 * HOUR);
  });

  it('random close to 1 gives (almost) nominal + 20 %', () => {
    const d = retryDelay(policy, 6, 0.999999)!;
    assert.ok(d <= 12 * HOUR, `${d} exceeds +20 %`);
    assert.ok(d >= 12 * HOUR - 0.0001 * HOUR, `${d} is not close to +20 %`);
    assert.equal(retryDelay(policy, 1, 0.999999), 6 * SEC);
  });

  it('stays within ±20 % of nominal for a sweep of random values', () => {
    const N = 1000;
    for (let attempt = 1; attempt <= policy.schedule.length; attempt++) {
      const nominal = policy.schedule[attempt - 1]!;
      let min = Infinity;
      let max = -Infinity;
      for (let k = 0; k < N; k++) {
        const random = k / N; // [0, 1)
        const d = retryDelay(policy, attempt, random)!;
        assert.ok(Number.isInteger(d), `delay ${d} is not a whole number of ms`);
        assert.ok(
          d >= nominal * 0.8 && d <= nominal * 1.2,
          `attempt ${attempt}, random ${random}: ${d} outside ±20 % of ${nominal}`,
        );
        min = Math.min(min, d);
        max = Math.max(max, d);
      }
      // The jitter is actually applied: the sweep spans most of the ±20 % band.
      assert.ok(min <= nominal * 0.81, `attempt ${attempt}: min ${min}`);
      assert.ok(max >= nominal * 1.19, `attempt ${attempt}: max ${max}`);
    }
  });

  it('is monotonic in random', () => {
    let prev = -Infinity;
    for (let k = 0; k < 100; k++) {
      const d = retryDelay(policy, 5, k / 100)!;
      assert.ok(d >= prev);
      prev = d;
    }
  });

  it('has no jitter when jitter = 0', () => {
    const flat: RetryPolicy = { schedule: [1000, 2000], jitter: 0 };
    assert.equal(retryDelay(flat, 1, 0), 1000);
    assert.equal(retryDelay(flat, 2, 0.99), 2000);
  });

  it('returns null after the last scheduled delay', () => {
    assert.equal(retryDelay(policy, policy.schedule.length, 0.5), 10 * HOUR);
    assert.equal(retryDelay(policy, policy.schedule.length + 1, 0.5), null);
    assert.equal(retryDelay(policy, policy.schedule.length + 5, 0), null);
    assert.equal(retryDelay({ schedule: [], jitter: 0.2 }, 1, 0.5), null);
  });
});

describe('DEFAULT_RETRY_SCHEDULE', () => {
  it('is 5s,5m,30m,2h,5h,10h,10h', () => {
    assert.equal(DEFAULT_RETRY_SCHEDULE, '5s,5m,30m,2h,5h,10h,10h');
  });

  it('parses to 7 delays totalling about 27.5 hours', () => {
    const schedule = parseDurationList(DEFAULT_RETRY_SCHEDULE);
    assert.deepEqual(schedule, [5 * SEC, 5 * MIN, 30 * MIN, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR]);
    assert.equal(schedule.length, 7);
    const total = schedule.reduce((a, b) => a + b, 0);
    // 27.5 h + 5 min + 5 s
    assert.equal(total, 27.5 * HOUR + 5 * MIN + 5 * SEC);
    assert.ok(Math.abs(total - 27.5 * HOUR) < 10 * MIN);
    // 8 attempts in all: the immediate one plus one after each delay.
    const p: RetryPolicy = { schedule, jitter: 0.2 };
    assert.notEqual(retryDelay(p, 7, 0.5), null);
    assert.equal(retryDelay(p, 8, 0.5), null);
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2025, 0, 15, 12, 0, 0);

  it('returns null when the header is absent or empty', () => {
    assert.equal(retryAfterMs(undefined, now, policy), null);
    assert.equal(retryAfterMs('', now, policy), null);
  });

  it('reads delay-seconds', () => {
    assert.equal(retryAfterMs('0', now, policy), 0);
    assert.equal(retryAfterMs('1', now, policy), 1000);
    assert.equal(retryAfterMs('120', now, policy), 120_000);
    assert.equal(retryAfterMs('  30 ', now, policy), 30_000);
  });

  it('reads an HTTP-date relative to the injected now', () => {
    const at = new Date(now + 90 * SEC).toUTCString();
    assert.equal(retryAfterMs(at, now, policy), 90_000);
    // Same header, a different clock: the answer moves with now.
    assert.equal(retryAfterMs(at, now + 30 * SEC, policy), 60_000);
    assert.equal(retryAfterMs('Wed, 15 Jan 2025 13:00:00 GMT', now, policy), HOUR);
  });

  it('caps at the longest scheduled delay', () => {
    assert.equal(retryAfterMs('999999999', now, policy), 10 * HOUR);
    assert.equal(retryAfterMs(String(10 * 3600 + 1), now, policy), 10 * HOUR);
    assert.equal(retryAfterMs(String(10 * 3600 - 1), now, policy), 10 * HOUR - 1000);
    assert.equal(retryAfterMs(new Date(now + 48 * HOUR).toUTCString(), now, policy), 10 * HOUR);
    const short: RetryPolicy = { schedule: [1000, 3000, 2000], jitter: 0.2 };
    assert.equal(retryAfterMs('60', now, short), 3000);
  });

  it('returns null for garbage', () => {
    for (const garbage of ['soon', 'abc', '120 seconds', '0x10', '1e3', '   ']) {
      assert.equal(retryAfterMs(garbage, now, policy), null, JSON.stringify(garbage));
    }
  });

  it('returns 0 for a past date', () => {
    assert.equal(retryAfterMs(new Date(now - HOUR).toUTCString(), now, policy), 0);
    assert.equal(retryAfterMs('Thu, 01 Jan 1970 00:00:00 GMT', now, policy), 0);
  });

  it('treats strings that are neither delay-seconds nor an IMF-fixdate as unreadable', () => {
    for (const s of ['abc 12', '1.5', 'Dec 25 2099', '-5']) {
      assert.equal(retryAfterMs(s, now, policy), null, JSON.stringify(s));
    }
  });
});
