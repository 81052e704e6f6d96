import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

// Random bytes for identifiers (event ids, trace and span ids), never for
// secrets (domain/tokens.ts and secret-box.ts draw their own). Each
// randomBytes or getRandomValues call is one call into OpenSSL; in a
// publishing server's CPU profile (bench/compare.ts with PROF=1, 5,000
// publishes) the two a publish made, uuid's v7 and the untraced trace id, took
// 150 ms of 4,710 (3 %), about 15 us each under load against 2 us alone. One
// fill of POOL_BYTES serves about a hundred publishes, as Node's own
// randomUUID does with its cache.

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;

/**
 * `n` (≤ POOL_BYTES) cryptographically random bytes: a view of the pool,
 * valid until the next call, so read or copy it at once.
 */
export function randomView(n: number): Buffer {
  if (used + n > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  return pool.subarray(used, (used += n));
}

/** `n` random bytes as 2n lower-case hex digits. */
export function randomHex(n: number): string {
  return randomView(n).toString('hex');
}

// uuid's v7 keeps its ids increasing within a millisecond only when called
// without options; given its random bytes, it is given that counter too, kept
// as uuid keeps it (RFC 9562, method 1: a 31-bit counter seeded at random
// each millisecond).
const last = { msecs: -Infinity, seq: 0 };

/** A UUIDv7 (RFC 9562): time-ordered, increasing within this process, its random bits drawn from the pool. */
export function newUuidV7(now: number = Date.now()): string {
  const random = randomView(16);
  if (now > last.msecs) {
    last.msecs = now;
    last.seq = random.readUInt32BE(6) & 0x7fffffff;
  } else if ((last.seq = (last.seq + 1) | 0) === 0) {
    last.msecs++;
  }
  return uuidv7({ random, msecs: last.msecs, seq: last.seq });
}
