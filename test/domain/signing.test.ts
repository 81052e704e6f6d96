import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, verify as cryptoVerify } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  isWhsecSecret,
  newSigningKeyPair,
  privateKeyFrom,
  publicKeyFrom,
  sign,
  signEd25519,
  signatureHeader,
  signingKey,
} from '../../src/domain/signing.js';
import { newWebhookSecret } from '../../src/domain/tokens.js';

// standardwebhooks is CommonJS ("type": "commonjs", main dist/index.js, exports.Webhook = …);
// Node's CJS named-export detection makes `import { Webhook }` work from ESM.

const nowSeconds = () => Math.floor(Date.now() / 1000);
const body = JSON.stringify({
  type: 'enrollment.completed',
  timestamp: '2025-01-01T00:00:00Z',
  data: { id: '42', name: 'Zoë ✓' },
});

function headers(id: string, ts: number, sig: string): Record<string, string> {
  return { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': sig };
}

describe('standardwebhooks import', () => {
  it('exposes the Webhook class through the ESM named import', () => {
    assert.equal(typeof Webhook, 'function');
    assert.equal(typeof Webhook.prototype.verify, 'function');
    assert.equal(typeof WebhookVerificationError, 'function');
  });
});

describe('sign', () => {
  it('matches the Standard Webhooks test vector (known secret, id, timestamp, body → known signature)', () => {
    // The vector of the Standard Webhooks reference libraries' own tests.
    const sig = sign(
      signingKey('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'),
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    assert.equal(sig, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('has the form v1,<base64 of a 32-byte HMAC-SHA256>', () => {
    const sig = sign(signingKey('secret'), 'msg_1', 1700000000, body);
    assert.match(sig, /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(sig.slice(3), 'base64').length, 32);
  });

  it('depends on id, timestamp, body and key', () => {
    const key = signingKey('secret');
    const base = sign(key, 'msg_1', 1700000000, body);
    assert.equal(sign(key, 'msg_1', 1700000000, body), base);
    assert.notEqual(sign(key, 'msg_2', 1700000000, body), base);
    assert.notEqual(sign(key, 'msg_1', 1700000001, body), base);
    assert.notEqual(sign(key, 'msg_1', 1700000000, body + ' '), base);
    assert.notEqual(sign(signingKey('secreT'), 'msg_1', 1700000000, body), base);
  });

  describe('verified by the standardwebhooks library', () => {
    it('whsec_ secret', () => {
      const secret = 'whsec_' + randomBytes(24).toString('base64');
      const id = 'msg_' + randomBytes(8).toString('hex');
      const ts = nowSeconds();
      const sig = sign(signingKey(secret), id, ts, body);
      const parsed = new Webhook(secret).verify(body, headers(id, ts, sig));
      assert.deepEqual(parsed, JSON.parse(body));
      // And the library's own signature is byte-for-byte the same.
      assert.equal(new Webhook(secret).sign(id, new Date(ts * 1000), body), sig);
    });

    it('whsec_ secret from newWebhookSecret()', () => {
      const secret = newWebhookSecret();
      const ts = nowSeconds();
      const sig = sign(signingKey(secret), 'msg_x', ts, body);
      assert.doesNotThrow(() => new Webhook(secret).verify(body, headers('msg_x', ts, sig)));
    });

    for (const secret of ['plain-secret', 'päss-wörd-✓', 'whsec-not-the-prefix', '🔑 emoji key']) {
      it(`plain secret ${JSON.stringify(secret)} used as its UTF-8 bytes`, () => {
        const ts = nowSeconds();
        const sig = sign(signingKey(secret), 'msg_plain', ts, body);
        const wh = new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' });
        assert.deepEqual(wh.verify(body, headers('msg_plain', ts, sig)), JSON.parse(body));
      });
    }

    it('a tampered body fails verification', () => {
      const secret = newWebhookSecret();
      const ts = nowSeconds();
      const sig = sign(signingKey(secret), 'msg_t', ts, body);
      const tampered = body.replace('"42"', '"43"');
      assert.notEqual(tampered, body);
      assert.throws(() => new Webhook(secret).verify(tampered, headers('msg_t', ts, sig)), WebhookVerificationError);
    });

    it('a tampered id or timestamp fails verification', () => {
      const secret = newWebhookSecret();
      const ts = nowSeconds();
      const sig = sign(signingKey(secret), 'msg_t', ts, body);
      assert.throws(() => new Webhook(secret).verify(body, headers('msg_u', ts, sig)), WebhookVerificationError);
      assert.throws(() => new Webhook(secret).verify(body, headers('msg_t', ts - 1, sig)), WebhookVerificationError);
    });

    it('a wrong secret fails verification', () => {
      const ts = nowSeconds();
      const sig = sign(signingKey(newWebhookSecret()), 'msg_w', ts, body);
      assert.throws(
        () => new Webhook(newWebhookSecret()).verify(body, headers('msg_w', ts, sig)),
        WebhookVerificationError,
      );
      const plainSig = sign(signingKey('päss-wörd-✓'), 'msg_w', ts, body);
      const wrong = new Webhook(Buffer.from('pass-word-✓', 'utf8'), { format: 'raw' });
      assert.throws(() => wrong.verify(body, headers('msg_w', ts, plainSig)), WebhookVerificationError);
    });
  });
});

describe('signingKey', () => {
  it('base64-decodes whsec_ secrets', () => {
    const raw = randomBytes(24);
    assert.deepEqual(signingKey('whsec_' + raw.toString('base64')), raw);
  });

  it('uses other strings as UTF-8 bytes', () => {
    assert.deepEqual(signingKey('päss-wörd-✓'), Buffer.from('päss-wörd-✓', 'utf8'));
    assert.equal(signingKey('päss-wörd-✓').length, 15); // p ä(2) s s - w ö(2) r d - ✓(3)
  });
});

describe('isWhsecSecret', () => {
  it('is true for whsec_ + base64 of 24 random bytes', () => {
    for (let i = 0; i < 20; i++) {
      const secret = 'whsec_' + randomBytes(24).toString('base64');
      assert.equal(isWhsecSecret(secret), true, secret);
    }
    assert.equal(isWhsecSecret(newWebhookSecret()), true);
  });

  it('is true for base64 with padding', () => {
    assert.equal(isWhsecSecret('whsec_' + randomBytes(20).toString('base64')), true);
  });

  it('is false for plain strings', () => {
    for (const s of ['', 'secret', 'päss-wörd-✓', 'whsec_', 'whsec', 'WHSEC_' + randomBytes(24).toString('base64')]) {
      assert.equal(isWhsecSecret(s), false, JSON.stringify(s));
    }
  });

  it('is false when the part after whsec_ is not base64 or too short', () => {
    assert.equal(isWhsecSecret('whsec_not base64!'), false);
    assert.equal(isWhsecSecret('whsec_' + randomBytes(8).toString('base64')), false);
    assert.equal(isWhsecSecret('whsec_' + randomBytes(24).toString('base64url').replace(/^/, '-_')), false);
  });
});

describe('ED25519 (v1a)', () => {
  it('signs the Standard Webhooks content; a receiver verifies with nothing but the whpk_ key', () => {
    const pair = newSigningKeyPair();
    assert.match(pair.publicKey, /^whpk_[A-Za-z0-9+/]{43}=$/);
    assert.equal(Buffer.from(pair.publicKey.slice(5), 'base64').length, 32);
    const entry = signEd25519(privateKeyFrom(pair.privateKey), 'msg_1', 1700000000, body);
    assert.match(entry, /^v1a,[A-Za-z0-9+/]{86}==$/);
    const verifyWith = (whpk: string, content: string) =>
      cryptoVerify(null, Buffer.from(content), publicKeyFrom(whpk), Buffer.from(entry.slice(4), 'base64'));
    assert.equal(verifyWith(pair.publicKey, `msg_1.1700000000.${body}`), true);
    assert.equal(verifyWith(pair.publicKey, `msg_1.1700000000.${body} `), false, 'a tampered body fails');
    assert.equal(verifyWith(newSigningKeyPair().publicKey, `msg_1.1700000000.${body}`), false, 'another key fails');
  });

  it('the header carries v1 entries then v1a entries, each new first', () => {
    const k1 = signingKey('one');
    const k2 = signingKey('two');
    const e1 = privateKeyFrom(newSigningKeyPair().privateKey);
    const e2 = privateKeyFrom(newSigningKeyPair().privateKey);
    const header = signatureHeader({ hmac: [k1, k2], ed25519: [e1, e2] }, 'msg_1', 1700000000, body)!;
    const entries = header.split(' ');
    assert.deepEqual(
      entries.map((e) => e.split(',')[0]),
      ['v1', 'v1', 'v1a', 'v1a'],
    );
    assert.equal(entries[0], sign(k1, 'msg_1', 1700000000, body));
    assert.equal(entries[1], sign(k2, 'msg_1', 1700000000, body));
    assert.equal(signatureHeader({ hmac: [], ed25519: [] }, 'msg_1', 1, body), null);
  });

  it('refuses public keys that are not whpk_ of 32 bytes', () => {
    assert.throws(() => publicKeyFrom('whsec_abc'), /whpk_/);
    assert.throws(() => publicKeyFrom(`whpk_${Buffer.alloc(16).toString('base64')}`), /32 bytes/);
  });
});
