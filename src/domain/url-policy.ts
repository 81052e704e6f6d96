import ipaddr from 'ipaddr.js';

// Which destinations a webhook may point at. Pure: the same isPublicAddress
// judges IP literals here, at configuration time, and every address DNS
// returns at connect time (delivery/guarded-lookup.ts).

export const MAX_URL_LENGTH = 2048;

export interface UrlPolicy {
  allowPrivate: boolean;
  requireHttps: boolean;
}

/**
 * The one place that decides whether an address may be connected to: true only
 * for globally routable unicast. An IPv6 address that carries an IPv4 address
 * is judged by that IPv4 address. Accepts a zone index ("fe80::1%eth0").
 */
export function isPublicAddress(address: string): boolean {
  const parsed = parseAddress(address);
  if (parsed === null) return false;
  return parsed instanceof ipaddr.IPv4 ? isPublicIPv4(parsed) : isPublicIPv6(parsed);
}

/**
 * IPv4, alone or at the end of an IPv6 address, only in the dotted decimal that
 * URL.hostname and dns.lookup write. ipaddr.js also takes "127.1", "0x7f.1" and
 * octal octets, and inside IPv6 it reads "::ffff:0177.0.0.1" as 177.0.0.1 where its
 * own IPv4 parser reads 0177 as octal 127: refusing every other spelling means no
 * two parsers can disagree about which address a string names.
 */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (!address.includes(':')) return ipaddr.IPv4.isValidFourPartDecimal(address) ? ipaddr.IPv4.parse(address) : null;
  // The zone only says which interface to leave by; the address alone decides where the packet goes.
  const bare = /^([^%]+)(?:%.+)?$/.exec(address)?.[1];
  if (bare === undefined || !ipaddr.IPv6.isValid(bare)) return null;
  const tail = bare.slice(bare.lastIndexOf(':') + 1);
  if (tail.includes('.') && !ipaddr.IPv4.isValidFourPartDecimal(tail)) return null;
  return ipaddr.IPv6.parse(bare);
}

function isPublicIPv4(address: ipaddr.IPv4): boolean {
  // ipaddr.js names every special-purpose block (private, CGNAT, link-local,
  // documentation, benchmarking, 240/4, ...); whatever it leaves as 'unicast' is global.
  return address.range() === 'unicast';
}

function isPublicIPv6(address: ipaddr.IPv6): boolean {
  const p = address.parts;
  switch (address.range()) {
    case 'ipv4Mapped':
      return isPublicIPv4(embeddedIPv4(p, 6));
    case 'rfc6052':
      // ipaddr.js puts both NAT64 prefixes under one name. 64:ff9b::/96 (RFC 6052) reaches the
      // IPv4 it carries; 64:ff9b:1::/48 (RFC 8215) is for local use, never global, whatever it carries.
      return p[2] === 0 && isPublicIPv4(embeddedIPv4(p, 6));
    case '6to4':
      return isPublicIPv4(embeddedIPv4(p, 1));
    case 'teredo':
      // Server IPv4 in bits 32-63; client IPv4 in bits 96-127, stored inverted (RFC 4380).
      return isPublicIPv4(embeddedIPv4(p, 2)) && isPublicIPv4(embeddedIPv4(p, 6, 0xffff));
    case 'unicast':
      // ipaddr.js calls IPv4-compatible ::/96 'unicast' (only :: and ::1 get names of their own).
      if (p.slice(0, 6).every((part) => part === 0)) return isPublicIPv4(embeddedIPv4(p, 6));
      // IANA hands out global unicast only from 2000::/3; the rest of what ipaddr.js leaves
      // as 'unicast' (::2:3:4, 4000::1) is unallocated, so not routable on the Internet.
      return (p[0]! & 0xe000) === 0x2000;
    default:
      return false;
  }
}

/** The IPv4 address in the 16-bit parts at index and index + 1, each XORed with mask. */
function embeddedIPv4(parts: number[], index: number, mask = 0): ipaddr.IPv4 {
  const high = parts[index]! ^ mask;
  const low = parts[index + 1]! ^ mask;
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/**
 * The address a URL's host names literally, or null when it is a domain name.
 * URL.hostname already reads every IPv4 spelling (2130706433, 0x7f.1, 0177.0.0.1)
 * and writes it as dotted decimal, and brackets every IPv6 address.
 */
export function literalAddress(url: URL): string | null {
  const host = url.hostname;
  if (host.startsWith('[')) return host.slice(1, -1);
  return ipaddr.IPv4.isValidFourPartDecimal(host) ? host : null;
}

/** Returns a sentence saying what is wrong with the URL, or null when it is acceptable. */
export function destinationProblem(raw: string, policy: UrlPolicy): string | null {
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
  // One trailing dot ("localhost.") names the same host.
  const name = url.hostname.replace(/\.$/, '');
  // DNS has no empty labels, so what "127.0.0.1.." names is up to each resolver, and the URL
  // parser takes it for a domain name: the address check below would never see it.
  if (name.split('.').includes('')) {
    return `must not have an empty label in its host name (${url.hostname})`;
  }
  // Whether the payload travels in clear is not a question of where it goes: allowPrivate does not lift this.
  if (policy.requireHttps && url.protocol === 'http:') {
    return 'must use https (HOOKLINE_REQUIRE_HTTPS=true refuses http)';
  }
  if (policy.allowPrivate) return null;
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return 'must not point at localhost (set HOOKLINE_ALLOW_PRIVATE_DESTINATIONS=true to allow it)';
  }
  const literal = literalAddress(url);
  if (literal !== null && !isPublicAddress(literal)) {
    return `must not point at a non-public address (${literal}); set HOOKLINE_ALLOW_PRIVATE_DESTINATIONS=true to allow it`;
  }
  return null;
}
