import { createHash, randomBytes } from 'node:crypto';

// API key tokens and generated secrets. Tokens carry 32 random bytes, so a fast
// hash (SHA-256) is enough to store them: there is nothing to brute-force.

export const API_TOKEN_PREFIX = 'hkl_';

export function newApiToken(): string {
  return API_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A Standard Webhooks secret: whsec_ + base64 of 24 random bytes. */
export function newWebhookSecret(): string {
  return 'whsec_' + randomBytes(24).toString('base64');
}
