import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decodeCursor, encodeCursor } from '../../src/domain/cursor.js';

const b64url = (s: string) => Buffer.from(s).toString('base64url');

describe('cursor', () => {
  it('round-trips a position', () => {
    for (let i = 0; i < 20; i++) {
      const p = { createdAt: new Date(Date.UTC(2024, i % 12, 1 + i, 3, 4, 5, 678)), id: randomUUID() };
      const decoded = decodeCursor(encodeCursor(p));
      assert.ok(decoded);
      assert.equal(decoded.createdAt.getTime(), p.createdAt.getTime());
      assert.equal(decoded.id, p.id);
    }
  });

  it('keeps millisecond precision and upper-case UUIDs', () => {
    const p = { createdAt: new Date('2025-03-04T05:06:07.089Z'), id: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' };
    assert.deepEqual(decodeCursor(encodeCursor(p)), p);
  });

  it('is opaque and URL-safe', () => {
    const c = encodeCursor({ createdAt: new Date('2025-01-01T00:00:00.000Z'), id: randomUUID() });
    assert.match(c, /^[A-Za-z0-9_-]+$/);
    assert.ok(!c.includes('2025'));
  });

  it('differs for different positions', () => {
    const id = randomUUID();
    const a = encodeCursor({ createdAt: new Date(1_700_000_000_000), id });
    const b = encodeCursor({ createdAt: new Date(1_700_000_000_001), id });
    const c = encodeCursor({ createdAt: new Date(1_700_000_000_000), id: randomUUID() });
    assert.notEqual(a, b);
    assert.notEqual(a, c);
  });

  it('decodes garbage to null', () => {
    const uuid = randomUUID();
    for (const garbage of [
      '',
      'not-a-cursor',
      '!!!!',
      b64url('hello'),
      b64url('|'),
      b64url(`not-a-date|${uuid}`),
      b64url(`${new Date().toISOString()}|`),
      b64url(`${new Date().toISOString()}|42`),
      b64url(`${new Date().toISOString()}|${uuid.replace(/-/g, 'z')}`),
      b64url(`${new Date().toISOString()}|${uuid}x`),
      b64url(`${new Date().toISOString()}|' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaaa`),
    ]) {
      assert.equal(decodeCursor(garbage), null, JSON.stringify(garbage));
    }
  });
});
