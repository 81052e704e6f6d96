import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validate, version } from 'uuid';
import { newUuidV7, randomHex } from '../../src/domain/random.js';

const msOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('identifiers from the random pool', () => {
  it('UUIDv7s carry their millisecond and increase within it, across refills of the pool', () => {
    const now = Date.UTC(2026, 11, 8, 12);
    // 10,000 ids need 160,000 bytes: the pool is refilled about forty times.
    const ids = Array.from({ length: 10_000 }, () => newUuidV7(now));
    for (const id of ids.slice(0, 50)) {
      assert.ok(validate(id), id);
      assert.equal(version(id), 7);
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    assert.equal(msOf(ids[0]!), now);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...ids].sort(), ids, 'in the order they were made');
  });

  it('a later millisecond sorts after, and a clock stepping back does not reorder this process’s ids', () => {
    const t = Date.UTC(2026, 11, 9);
    const a = newUuidV7(t);
    const b = newUuidV7(t + 1);
    const c = newUuidV7(t - 5_000);
    assert.ok(a < b && b < c, `${a} ${b} ${c}`);
    assert.equal(msOf(b), t + 1);
  });

  it('random bits differ from id to id (not a counter alone)', () => {
    const ids = Array.from({ length: 1_000 }, () => newUuidV7());
    const tails = new Set(ids.map((id) => id.slice(-12)));
    assert.equal(tails.size, ids.length);
  });

  it('randomHex gives 2n hex digits, new ones each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const h = randomHex(24);
      assert.match(h, /^[0-9a-f]{48}$/);
      seen.add(h);
    }
    assert.equal(seen.size, 2_000);
  });
});
