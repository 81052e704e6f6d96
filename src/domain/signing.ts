import { createHmac } from 'node:crypto';

// Standard Webhooks v1 signatures (delivery-contract.md, "The signature").

const WHSEC_PREFIX = 'whsec_';

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

export function isWhsecSecret(secret: string): boolean {
  if (!secret.startsWith(WHSEC_PREFIX)) return false;
  const b64 = secret.slice(WHSEC_PREFIX.length);
  return /^[A-Za-z0-9+/]+={0,2}$/.test(b64) && Buffer.from(b64, 'base64').length >= 16;
}
