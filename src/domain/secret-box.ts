import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// Secrets at rest (bearer tokens, HMAC secrets, ED25519 private keys): AES-256-GCM
// with a random 96-bit nonce per value. The sealed text names the key that
// sealed it, so keys can rotate (the first key seals, every key opens), and is
// bound to its row and column through the additional authenticated data: a
// ciphertext copied to another row or column does not open.
//
// Sealed form: v1.<key id>.<nonce, base64url>.<ciphertext and tag, base64url>

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export interface SecretKey {
  id: string;
  key: Buffer;
}

export interface Keyring {
  /** Seals new values. */
  current: SecretKey;
  /** Opens values, by key id. */
  keys: ReadonlyMap<string, Buffer>;
}

export class SecretKeyError extends Error {
  constructor(
    message: string,
    readonly keyId: string | null = null,
  ) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

/** `id:base64-of-32-bytes,id2:…` (HOOKLINE_SECRET_KEYS); the first seals, all open. */
export function parseKeyring(text: string): Keyring {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new SecretKeyError('expected at least one key, as id:base64-of-32-bytes');
  const keys = new Map<string, Buffer>();
  let current: SecretKey | null = null;
  for (const entry of entries) {
    const at = entry.indexOf(':');
    const id = at > 0 ? entry.slice(0, at) : '';
    if (!KEY_ID.test(id))
      throw new SecretKeyError(`"${id.slice(0, 40)}" is not a key id (letters, digits, _ and -, at most 32)`);
    const key = Buffer.from(entry.slice(at + 1), 'base64');
    if (key.length !== KEY_BYTES)
      throw new SecretKeyError(`key ${id} is ${key.length} bytes; expected base64 of ${KEY_BYTES} bytes`, id);
    if (keys.has(id)) throw new SecretKeyError(`key id ${id} is given twice`, id);
    keys.set(id, key);
    current ??= { id, key };
  }
  return { current: current!, keys };
}

export function newSecretKey(id: string): string {
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

export function isSealed(value: string): boolean {
  return value.startsWith(`${VERSION}.`) && value.split('.').length === 4;
}

/** The id of the key a sealed value needs. */
export function keyIdOf(sealed: string): string | null {
  return isSealed(sealed) ? sealed.split('.')[1]! : null;
}

export function seal(ring: Keyring, plaintext: string, aad: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', ring.current.key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return [VERSION, ring.current.id, nonce.toString('base64url'), body.toString('base64url')].join('.');
}

export function open(ring: Keyring, sealed: string, aad: string): string {
  if (!isSealed(sealed)) throw new SecretKeyError('not a sealed value');
  const [, id, nonce, body] = sealed.split('.') as [string, string, string, string];
  const key = ring.keys.get(id);
  if (!key)
    throw new SecretKeyError(`this value was sealed with key ${id}, which HOOKLINE_SECRET_KEYS does not have`, id);
  const data = Buffer.from(body, 'base64url');
  if (data.length < TAG_BYTES) throw new SecretKeyError('sealed value is truncated', id);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]).toString(
      'utf8',
    );
  } catch {
    throw new SecretKeyError(
      `key ${id} does not open this value (a wrong key, or a value moved from another row or column)`,
      id,
    );
  }
}

/** The additional authenticated data binding a sealed value to its place. */
export function placeOf(table: string, column: string, rowId: string): string {
  return `${table}.${column}:${rowId}`;
}
