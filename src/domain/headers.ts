import { badInput } from './errors.js';

// A webhook's custom headers (delivery contract, revision 3): sent with every
// delivery after the contract's own headers, which they can never replace.

export const MAX_HEADERS = 10;
export const MAX_HEADER_NAME = 64;
export const MAX_HEADER_VALUE = 1024;
/** Names and values of one webhook's headers together. */
export const MAX_HEADERS_BYTES = 8 * 1024;

// RFC 9110 §5.6.2: token = 1*tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Printable ASCII, spaces and tabs inside: Node refuses other bytes in a header, and a line break would
// start a header of the sender's choosing.
const VALUE = /^[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?$/;

const RESERVED: Record<string, string> = {
  'content-type': 'the payload is always JSON',
  'content-length': 'the HTTP client sets it from the body',
  host: "it is the destination URL's",
  'user-agent': 'Hookline names itself',
  authorization: 'the bearer token is sent in it (set bearerToken instead)',
  traceparent: 'tracing sets it (sendTraceparent)',
  tracestate: 'tracing sets it (sendTraceparent)',
  connection: 'it controls the connection, not the request',
  'keep-alive': 'it controls the connection, not the request',
  'transfer-encoding': 'the HTTP client frames the body',
  te: 'it controls the connection, not the request',
  upgrade: 'it controls the connection, not the request',
  expect: 'the HTTP client sends the body at once',
};

/** Why a header name cannot be a custom header; null when it can. */
export function reservedHeader(name: string): string | null {
  const lower = name.toLowerCase();
  if (lower.startsWith('webhook-')) return 'webhook-* headers carry the Standard Webhooks id, timestamp and signature';
  if (lower.startsWith('proxy-')) return 'proxy-* headers are for the proxies on the way, not the destination';
  return RESERVED[lower] ?? null;
}

export interface HeaderSpec {
  name: string;
  value: string;
  secret?: boolean | null;
}

/** A custom header as stored (webhooks.headers): a secret one's value sealed, never in plain text. */
export type StoredHeader =
  { name: string; secret: false; value: string } | { name: string; secret: true; sealed: string };

/** A checked header; `keep`: a secret given with an empty value keeps the one stored under its name. */
export interface CheckedHeader {
  name: string;
  value: string;
  secret: boolean;
  keep: boolean;
}

/**
 * The headers of a create or update, checked. Errors name the entry
 * (`input.headers[2].name`) and what was expected, and never quote a value.
 * `stored`: the names of the secret headers stored now, which an empty secret
 * value keeps (the API never returns them, so an editor cannot send them back).
 */
export function validHeaders(
  field: string,
  headers: readonly HeaderSpec[],
  stored: ReadonlySet<string> = new Set(),
): CheckedHeader[] {
  if (headers.length > MAX_HEADERS) {
    throw badInput(field, `at most ${MAX_HEADERS} headers (got ${headers.length})`);
  }
  const seen = new Map<string, number>();
  let bytes = 0;
  return headers.map((h, i) => {
    const at = `${field}[${i}]`;
    const name = h.name;
    if (name.length === 0 || name.length > MAX_HEADER_NAME) {
      throw badInput(`${at}.name`, `expected 1 to ${MAX_HEADER_NAME} characters (got ${name.length})`);
    }
    if (!TOKEN.test(name)) {
      throw badInput(
        `${at}.name`,
        "expected an HTTP header name: letters, digits and !#$%&'*+-.^_`|~ only (no spaces, colons or line breaks)",
      );
    }
    const reserved = reservedHeader(name);
    if (reserved) throw badInput(`${at}.name`, `${name} cannot be a custom header: ${reserved}`);
    const lower = name.toLowerCase();
    const first = seen.get(lower);
    if (first !== undefined) {
      throw badInput(`${at}.name`, `${name} is given twice (also ${field}[${first}]; names are case-insensitive)`);
    }
    seen.set(lower, i);
    const secret = h.secret === true;
    const keep = secret && h.value === '';
    if (keep && !stored.has(lower)) {
      throw badInput(`${at}.value`, `must not be empty: an empty value keeps a stored secret, and ${name} has none`);
    }
    if (!keep) {
      if (h.value.length === 0 || h.value.length > MAX_HEADER_VALUE) {
        throw badInput(`${at}.value`, `expected 1 to ${MAX_HEADER_VALUE} characters (got ${h.value.length})`);
      }
      if (!VALUE.test(h.value)) {
        throw badInput(
          `${at}.value`,
          'expected printable ASCII (spaces and tabs only inside): no line breaks, NUL or other control characters',
        );
      }
    }
    bytes += name.length + h.value.length;
    if (bytes > MAX_HEADERS_BYTES) {
      throw badInput(field, `names and values together must be at most ${MAX_HEADERS_BYTES} bytes`);
    }
    return { name, value: h.value, secret, keep };
  });
}

/** The column part of a secret header's sealing place: bound to the header's name, any case. */
export function headerSealColumn(name: string): `headers.${string}` {
  return `headers.${name.toLowerCase()}`;
}

/** For the audit log: the names, and which are secret; never a value. */
export function headersForAudit(headers: readonly { name: string; secret: boolean }[]): string[] {
  return headers.map((h) => (h.secret ? `${h.name} (secret)` : h.name));
}
