import assert from 'node:assert/strict';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import type { Received } from './receiver.js';

/**
 * A receiver's v1 (HMAC) check, done the way receivers do it: the
 * standardwebhooks and svix libraries, which must agree.
 */
export function v1Verifies(secret: string, m: Received): boolean {
  const headers = m.headers as Record<string, string>;
  const results = [
    () => new StandardWebhook(secret).verify(m.body, headers),
    () => new SvixWebhook(secret).verify(m.body, headers),
  ].map((v) => {
    try {
      v();
      return true;
    } catch {
      return false;
    }
  });
  assert.equal(results[0], results[1], 'standardwebhooks and svix agree');
  return results[0]!;
}
