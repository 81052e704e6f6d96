import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as edSign,
  type KeyObject,
} from 'node:crypto';

// Standard Webhooks signatures (delivery-contract.md, "The signature" and
// "ED25519 signatures (v1a) and rotation"): v1 is HMAC-SHA256 with a shared
// secret, v1a is ED25519 with a key whose public half receivers hold. During a
// rotation's overlap each scheme carries the new key's entry, then the previous one's.

const WHSEC_PREFIX = 'whsec_';
const WHPK_PREFIX = 'whpk_';

/** `whsec_<base64>` secrets are base64-decoded; any other string is used as its UTF-8 bytes. */
export function signingKey(secret: string): Buffer {
  return secret.startsWith(WHSEC_PREFIX)
    ? Buffer.from(secret.slice(WHSEC_PREFIX.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

export function sign(key: Buffer, webhookId: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${webhookId}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

export function signEd25519(key: KeyObject, webhookId: string, timestampSeconds: number, body: string): string {
  return `v1a,${edSign(null, Buffer.from(`${webhookId}.${timestampSeconds}.${body}`), key).toString('base64')}`;
}

/** The keys a delivery is signed with, each list new first. */
export interface SigningKeys {
  hmac: readonly Buffer[];
  ed25519: readonly KeyObject[];
}

/** The webhook-signature header: space-separated entries, v1 then v1a; null when there is no key. */
export function signatureHeader(
  keys: SigningKeys,
  webhookId: string,
  timestampSeconds: number,
  body: string,
): string | null {
  const entries = [
    ...keys.hmac.map((k) => sign(k, webhookId, timestampSeconds, body)),
    ...keys.ed25519.map((k) => signEd25519(k, webhookId, timestampSeconds, body)),
  ];
  return entries.length ? entries.join(' ') : null;
}

export function isWhsecSecret(secret: string): boolean {
  if (!secret.startsWith(WHSEC_PREFIX)) return false;
  const b64 = secret.slice(WHSEC_PREFIX.length);
  return /^[A-Za-z0-9+/]+={0,2}$/.test(b64) && Buffer.from(b64, 'base64').length >= 16;
}

export interface SigningKeyPair {
  /** PKCS#8 DER, base64: what is stored (sealed). */
  privateKey: string;
  /** whpk_ + base64 of the raw 32-byte public key: safe to show. */
  publicKey: string;
}

export function newSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    publicKey: publicKeyString(publicKey),
  };
}

export function privateKeyFrom(der: string): KeyObject {
  return createPrivateKey({ key: Buffer.from(der, 'base64'), format: 'der', type: 'pkcs8' });
}

export function publicKeyString(key: KeyObject): string {
  const { x } = key.export({ format: 'jwk' });
  return WHPK_PREFIX + Buffer.from(x!, 'base64url').toString('base64');
}

/** What a receiver does: the verifying key from nothing but the whpk_ string. */
export function publicKeyFrom(whpk: string): KeyObject {
  if (!whpk.startsWith(WHPK_PREFIX)) throw new Error('expected a whpk_ public key');
  const raw = Buffer.from(whpk.slice(WHPK_PREFIX.length), 'base64');
  if (raw.length !== 32) throw new Error('a whpk_ key is base64 of 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}
