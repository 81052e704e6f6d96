// What an attempt records beside its status and body, for "why did this
// attempt fail?" (contract revision 3): the address connected to, the
// response's headers, and where the time went, as got measured it.

export interface AttemptTimings {
  dnsMs: number | null;
  connectMs: number | null;
  tlsMs: number | null;
  /** From the request sent to the first byte of the answer. */
  firstByteMs: number | null;
  totalMs: number;
  reusedConnection: boolean;
}

/** got's `timings.phases` (the fields read here). */
export interface MeasuredPhases {
  dns?: number;
  tcp?: number;
  tls?: number;
  firstByte?: number;
  total?: number;
}

export const MAX_RESPONSE_HEADERS_BYTES = 8 * 1024;
/**
 * Present in responseHeaders when headers past the cap were left out: how many.
 * Parentheses cannot be in a header name, so no response header can take it.
 */
export const DROPPED_HEADERS_KEY = '(dropped)';

const seen = (ms: number | undefined) =>
  ms === undefined || !Number.isFinite(ms) ? null : Math.max(0, Math.round(ms));

/**
 * The phases got measured. A reused connection made no lookup, connection or
 * handshake for this request (got copies the first request's figures onto
 * later ones): those are null. Without a total (a timeout, a reset before the
 * answer ended), `elapsedMs` is.
 */
export function attemptTimings(phases: MeasuredPhases, reused: boolean, elapsedMs: number): AttemptTimings {
  return {
    dnsMs: reused ? null : seen(phases.dns),
    connectMs: reused ? null : seen(phases.tcp),
    tlsMs: reused ? null : seen(phases.tls),
    firstByteMs: seen(phases.firstByte),
    totalMs: seen(phases.total) ?? Math.max(0, Math.round(elapsedMs)),
    reusedConnection: reused,
  };
}

/** `ip:port`, an IPv6 address in brackets; null when the socket never connected. */
export function remoteAddress(address: string | undefined, port: number | undefined): string | null {
  if (!address) return null;
  const host = address.includes(':') ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}

/**
 * The response's headers as recorded: names lower-case (Node's already are),
 * set-cookie left out (a session of the receiver's, not ours to keep),
 * repeated ones joined, at most MAX_RESPONSE_HEADERS_BYTES of names and values.
 * Headers past the cap are left out whole, never cut, and DROPPED_HEADERS_KEY
 * says how many.
 */
export function recordedResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  let bytes = 0;
  let dropped = 0;
  for (const [rawName, raw] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    if (raw === undefined || name === 'set-cookie') continue;
    // jsonb cannot hold NUL.
    const value = (Array.isArray(raw) ? raw.join(', ') : raw).replace(/\u0000/g, '');
    const size = Buffer.byteLength(name) + Buffer.byteLength(value);
    if (bytes + size > MAX_RESPONSE_HEADERS_BYTES) {
      dropped++;
      continue;
    }
    bytes += size;
    out[name] = value;
  }
  if (dropped) out[DROPPED_HEADERS_KEY] = dropped;
  return out;
}
