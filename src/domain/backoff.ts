// When to try a delivery again. Pure: the caller passes the clock and the randomness.

export interface RetryPolicy {
  /** Delays after the first (immediate) attempt: schedule[0] follows attempt 1. */
  schedule: readonly number[];
  /** ±jitter as a fraction of each delay (0.2 = ±20 %). */
  jitter: number;
}

export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';

/**
 * Delay before the attempt after `attemptNumber` (1-based), or null when that was the last one.
 * `random` is in [0, 1); 0.5 gives the nominal delay.
 */
export function retryDelay(policy: RetryPolicy, attemptNumber: number, random: number): number | null {
  const nominal = policy.schedule[attemptNumber - 1];
  if (nominal === undefined) return null;
  const factor = 1 + policy.jitter * (2 * random - 1);
  return Math.round(nominal * factor);
}

/**
 * Retry-After (RFC 9110: delay-seconds or an HTTP-date) in ms from `now`,
 * capped at the longest scheduled delay; null when absent or unreadable.
 */
export function retryAfterMs(header: string | undefined, now: number, policy: RetryPolicy): number | null {
  if (!header) return null;
  const trimmed = header.trim();
  let ms: number;
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000;
  else {
    // Only the IMF-fixdate form RFC 9110 requires senders to use; Date.parse alone accepts almost anything.
    if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(trimmed)) return null;
    const at = Date.parse(trimmed);
    if (Number.isNaN(at)) return null;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), Math.max(...policy.schedule));
}
