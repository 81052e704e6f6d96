import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  SecretKeyError,
  isSealed,
  keyIdOf,
  newSecretKey,
  open,
  parseKeyring,
  placeOf,
  seal,
} from '../../src/domain/secret-box.js';

const k = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;
const PLACE = placeOf('webhooks', 'hmac_secret', '6b1d1b6e-1a63-4a43-9a35-1d2c0b3f4e5a');

describe('secret box (AES-256-GCM)', () => {
  const k1 = k('k1');
  const k2 = k('k2');

  it('seals and opens, naming the key, with a fresh nonce every time', () => {
    const ring = parseKeyring(k1);
    const a = seal(ring, 'whsec_secret', PLACE);
    const b = seal(ring, 'whsec_secret', PLACE);
    assert.ok(isSealed(a));
    assert.equal(keyIdOf(a), 'k1');
    assert.notEqual(a, b, 'a random 96-bit nonce per value');
    assert.equal(a.split('.')[2]!.length, 16, '12 bytes of nonce, base64url');
    assert.ok(!a.includes('whsec_secret'));
    assert.equal(open(ring, a, PLACE), 'whsec_secret');
    assert.equal(open(ring, b, PLACE), 'whsec_secret');
    assert.equal(open(ring, seal(ring, 'Zoë ✓ 🚀', PLACE), PLACE), 'Zoë ✓ 🚀');
  });

  it('does not open in another row or column (the place is authenticated)', () => {
    const ring = parseKeyring(k1);
    const sealed = seal(ring, 'token', PLACE);
    assert.throws(() => open(ring, sealed, placeOf('webhooks', 'hmac_secret', 'another-row')), SecretKeyError);
    assert.throws(
      () => open(ring, sealed, placeOf('webhooks', 'bearer_token', '6b1d1b6e-1a63-4a43-9a35-1d2c0b3f4e5a')),
      SecretKeyError,
    );
  });

  it('refuses a tampered or truncated value', () => {
    const ring = parseKeyring(k1);
    const [v, id, nonce, body] = seal(ring, 'token', PLACE).split('.') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    assert.throws(() => open(ring, [v, id, nonce, flipped.toString('base64url')].join('.'), PLACE), /does not open/);
    assert.throws(() => open(ring, [v, id, nonce, 'AAAA'].join('.'), PLACE), /truncated/);
    assert.throws(() => open(ring, 'plain text', PLACE), /not a sealed value/);
  });

  it('rotates keys: the first seals, every key opens; a missing key is named', () => {
    const old = parseKeyring(k1);
    const sealedWithK1 = seal(old, 'token', PLACE);
    const both = parseKeyring(`${k2},${k1}`);
    assert.equal(both.current.id, 'k2');
    assert.equal(open(both, sealedWithK1, PLACE), 'token');
    assert.equal(keyIdOf(seal(both, 'token', PLACE)), 'k2');
    const onlyK2 = parseKeyring(k2);
    assert.throws(
      () => open(onlyK2, sealedWithK1, PLACE),
      (e: unknown) => e instanceof SecretKeyError && e.keyId === 'k1' && /sealed with key k1/.test(e.message),
    );
  });

  it('a wrong key of the same id does not open, and says so', () => {
    const sealed = seal(parseKeyring(k1), 'token', PLACE);
    assert.throws(() => open(parseKeyring(k('k1')), sealed, PLACE), /key k1 does not open/);
  });

  it('parses HOOKLINE_SECRET_KEYS strictly, without echoing key material', () => {
    const material = randomBytes(16).toString('base64');
    for (const [text, why] of [
      ['', /at least one key/],
      [`k1:${material}`, /16 bytes; expected base64 of 32/],
      [`bad id!:${randomBytes(32).toString('base64')}`, /not a key id/],
      [`${k1},${k1.replace(/:.*/, '')}:${randomBytes(32).toString('base64')}`, /given twice/],
    ] as const) {
      assert.throws(
        () => parseKeyring(text),
        (e: unknown) => e instanceof SecretKeyError && why.test(e.message) && !e.message.includes(material),
        text,
      );
    }
    assert.equal(parseKeyring(newSecretKey('gen')).current.key.length, 32);
  });
});
