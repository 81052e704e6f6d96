import { retryAfterMs, retryDelay, type RetryPolicy } from './backoff.js';

// The delivery contract's outcome table, as one pure decision.

export type AttemptOutcome = 'SUCCESS' | 'HTTP_ERROR' | 'TIMEOUT' | 'NETWORK_ERROR' | 'BLOCKED';

export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter?: string }
  | { kind: 'timeout' }
  | { kind: 'network' }
  | { kind: 'blocked' };

export interface Decision {
  outcome: AttemptOutcome;
  /** SUCCEEDED, FAILED, or PENDING with nextAttemptAt. */
  deliveryStatus: 'SUCCEEDED' | 'FAILED' | 'PENDING';
  nextAttemptAt: Date | null;
  /** Set when this response disables the webhook at once (410 Gone). */
  disableReason: string | null;
}

export function classify(result: AttemptResult): AttemptOutcome {
  switch (result.kind) {
    case 'response':
      return result.status >= 200 && result.status < 300 ? 'SUCCESS' : 'HTTP_ERROR';
    case 'timeout':
      return 'TIMEOUT';
    case 'network':
      return 'NETWORK_ERROR';
    case 'blocked':
      return 'BLOCKED';
  }
}

export function decide(
  result: AttemptResult,
  attemptNumber: number,
  policy: RetryPolicy,
  now: number,
  random: number,
): Decision {
  const outcome = classify(result);
  if (outcome === 'SUCCESS') {
    return { outcome, deliveryStatus: 'SUCCEEDED', nextAttemptAt: null, disableReason: null };
  }
  const disableReason = result.kind === 'response' && result.status === 410 ? 'endpoint answered 410 Gone' : null;
  const scheduled = retryDelay(policy, attemptNumber, random);
  if (scheduled === null) {
    return { outcome, deliveryStatus: 'FAILED', nextAttemptAt: null, disableReason };
  }
  let delay = scheduled;
  if (result.kind === 'response' && (result.status === 429 || result.status === 503)) {
    const asked = retryAfterMs(result.retryAfter, now, policy);
    if (asked !== null) delay = Math.max(delay, asked);
  }
  return { outcome, deliveryStatus: 'PENDING', nextAttemptAt: new Date(now + delay), disableReason };
}

/**
 * The decision for an open circuit's probe: a success is a success; a failure
 * keeps the delivery PENDING with its circuit's other deliveries, neither
 * failing it nor moving its retry schedule on (the caller counts the attempt
 * number without probes), since it tested the destination, not the delivery.
 */
export function decideProbe(decision: Decision): Decision {
  if (decision.outcome === 'SUCCESS') return decision;
  return { ...decision, deliveryStatus: 'PENDING', nextAttemptAt: null };
}

export interface HealthPolicy {
  /** A webhook failing without a success for this long … */
  disableAfterMs: number;
  /** … and at least this many failed attempts, is disabled. */
  minFailures: number;
}

export function shouldDisableForFailures(
  failingSince: Date | null,
  consecutiveFailures: number,
  now: number,
  policy: HealthPolicy,
): boolean {
  return (
    failingSince !== null &&
    now - failingSince.getTime() >= policy.disableAfterMs &&
    consecutiveFailures >= policy.minFailures
  );
}
