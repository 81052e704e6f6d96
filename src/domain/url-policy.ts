import ipaddr from 'ipaddr.js';

// Which destinations a webhook may point at. Pure: the DNS-time check in
// delivery/guarded-lookup.ts uses isPublicAddress on the resolved addresses.

export const MAX_URL_LENGTH = 2048;

/** True for globally routable unicast addresses; false for loopback, private, link-local, etc. */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  // process() turns IPv4-mapped IPv6 (::ffff:127.0.0.1) into the IPv4 it carries.
  const parsed = ipaddr.process(address);
  return parsed.range() === 'unicast';
}

function literalHost(hostname: string): string | null {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) ? bare : null;
}

/** Returns a sentence saying what is wrong with the URL, or null when it is acceptable. */
export function destinationProblem(raw: string, allowPrivate: boolean): string | null {
  if (raw.length > MAX_URL_LENGTH) return `must be at most ${MAX_URL_LENGTH} characters (got ${raw.length})`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `must use http or https (got ${url.protocol.replace(/:$/, '')})`;
  }
  if (url.username || url.password) {
    return 'must not contain credentials; use bearerToken for authentication';
  }
  if (allowPrivate) return null;
  // A trailing dot ("localhost.") names the same host.
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host === 'localhost' || host.endsWith('.localhost')) {
    return 'must not point at localhost (set HOOKLINE_ALLOW_PRIVATE_DESTINATIONS=true to allow it)';
  }
  const literal = literalHost(host);
  if (literal !== null && !isPublicAddress(literal)) {
    return `must not point at a non-public address (${literal}); set HOOKLINE_ALLOW_PRIVATE_DESTINATIONS=true to allow it`;
  }
  return null;
}
