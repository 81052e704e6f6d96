import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { decodeCursor, encodeCursor } from '../../src/domain/cursor.js';

const b64url = (s: string) => Buffer.from(s).toString('base64url');

describe('cursor', () => {
  it('round-trips a position', () => {
    for (let i = 0; i < 20; i++) {
      const p = { createdAt: new Date(Date.UTC(2024, i % 12, 1 + i, 3, 4, 5, 678)), id: randomUUID() };
      const decoded = decodeCursor('deliveries', encodeCursor('deliveries', p));
      assert.ok(decoded);
      assert.equal(decoded.createdAt.getTime(), p.createdAt.getTime());
      assert.equal(decoded.id, p.id);
    }
  });

  it('keeps millisecond precision and upper-case UUIDs', () => {
    const p = { createdAt: new Date('2025-03-04T05:06:07.089Z'), id: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' };
    assert.deepEqual(decodeCursor('webhooks', encodeCursor('webhooks', p)), p);
  });

  it('is opaque and URL-safe', () => {
    const c = encodeCursor('events', { createdAt: new Date('2025-01-01T00:00:00.000Z'), id: randomUUID() });
    assert.match(c, /^[A-Za-z0-9_-]+$/);
    assert.ok(!c.includes('2025'));
  });

  it('differs for different positions', () => {
    const id = randomUUID();
    const a = encodeCursor('events', { createdAt: new Date(1_700_000_000_000), id });
    const b = encodeCursor('events', { createdAt: new Date(1_700_000_000_001), id });
    const c = encodeCursor('events', { createdAt: new Date(1_700_000_000_000), id: randomUUID() });
    assert.notEqual(a, b);
    assert.notEqual(a, c);
  });

  it('is refused by another list: a webhooks cursor is not a deliveries cursor', () => {
    const c = encodeCursor('webhooks', { createdAt: new Date('2026-01-01T00:00:00.000Z'), id: randomUUID() });
    assert.ok(decodeCursor('webhooks', c));
    assert.equal(decodeCursor('deliveries', c), null);
  });

  it('decodes garbage and forgeries to null', () => {
    const uuid = randomUUID();
    const now = new Date().toISOString();
    for (const garbage of [
      '',
      'not-a-cursor',
      '!!!!',
      'x'.repeat(300),
      b64url('hello'),
      b64url('events|'),
      b64url(`events|not-a-date|${uuid}`),
      b64url(`events|${now}|`),
      b64url(`events|${now}|42`),
      b64url(`events|${now}|${'-'.repeat(36)}`),
      b64url(`events|${now}|${uuid.replace(/-/g, 'z')}`),
      b64url(`events|${now}|${uuid}x`),
      b64url(`events|${now}|' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaaa`),
      // Dates JavaScript holds and PostgreSQL cannot, or that no row of this service has.
      b64url(`events|-271821-04-20T00:00:00.000Z|${uuid}`),
      b64url(`events|+275760-09-13T00:00:00.000Z|${uuid}`),
      b64url(`events|1969-12-31T23:59:59.999Z|${uuid}`),
      b64url(`events|2026-02-30T00:00:00.000Z|${uuid}`),
      b64url(`events|${now}|${uuid}|extra`),
      b64url(`${now}|${uuid}`),
    ]) {
      assert.equal(decodeCursor('events', garbage), null, JSON.stringify(garbage));
    }
  });
});
