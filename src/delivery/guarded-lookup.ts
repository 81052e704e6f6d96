import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import { isPublicAddress, literalAddress, type UrlPolicy } from '../domain/url-policy.js';

// DNS rebinding defence: the socket connects to exactly the addresses this
// lookup returns, so checking them here checks the address actually used.

export class BlockedDestinationError extends Error {
  readonly code = 'HOOKLINE_BLOCKED';
  constructor(
    readonly hostname: string,
    readonly address: string,
  ) {
    super(`${hostname} resolves to non-public address ${address}`);
  }
}

type Entry = { address: string; family: number };

export function guardedLookup(allowPrivate: () => boolean): LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses: Entry[]) => {
      if (err) return callback(err);
      if (!allowPrivate()) {
        const bad = addresses.find((a) => !isPublicAddress(a.address));
        if (bad) return callback(new BlockedDestinationError(hostname, bad.address));
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }));
      callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}

/**
 * Hosts written as IP literals never reach a lookup function: check them before
 * connecting. Returns why the URL may not be used now, or null. The https rule is
 * checked here too, so turning it on also stops webhooks stored before it was.
 */
export function blockedLiteral(url: URL, policy: UrlPolicy): string | null {
  if (policy.requireHttps && url.protocol === 'http:') {
    return 'destination must use https (HOOKLINE_REQUIRE_HTTPS=true)';
  }
  if (policy.allowPrivate) return null;
  const literal = literalAddress(url);
  return literal !== null && !isPublicAddress(literal) ? `destination is a non-public address (${literal})` : null;
}
