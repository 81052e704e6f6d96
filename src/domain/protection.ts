import { badInput } from './errors.js';

// Endpoint protection (delivery contract, revision 3): a webhook's limits,
// across every worker, and its circuit breaker. The rules are decided in the
// claim (storage/sql/deliveries.ts) and the attempt log's statement; the
// constants and the arithmetic live here.

/** The largest rateLimit and maxInFlight a webhook may have. */
export const MAX_LIMIT = 1000;

/**
 * A rate-limited delivery claimed at time t must start by t + START_GRACE_MS,
 * or its worker hands it back unsent; the claim counts its claims over
 * RATE_WINDOW_MS, a second plus that grace plus ARRIVAL_MARGIN_MS for the
 * way to the destination. Measured with two workers on this 2-core machine
 * (test/delivery/protection.test.ts): the starts kept to 20 a second with a
 * 1,050 ms window, but the receiver saw 25 in one second, requests of one
 * burst arriving up to ~100 ms after their start. The price of the margin: a
 * saturated limit runs at 1000/1100 of it.
 */
export const START_GRACE_MS = 25;
const ARRIVAL_MARGIN_MS = 75;
export const RATE_WINDOW_MS = 1000 + START_GRACE_MS + ARRIVAL_MARGIN_MS;

/** Failed attempts in a row (any deliveries of the webhook) that open its circuit, unless configured. */
export const CIRCUIT_THRESHOLD = 10;
/** The first probe after the circuit opens; each failed probe doubles the interval, up to CIRCUIT_MAX_PROBE_MS. */
export const CIRCUIT_FIRST_PROBE_MS = 30_000;
export const CIRCUIT_MAX_PROBE_MS = 300_000;

export const CIRCUIT_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN'] as const;
export type CircuitState = (typeof CIRCUIT_STATES)[number];

/** The breaker's settings (HOOKLINE_CIRCUIT_THRESHOLD sets the threshold). */
export interface CircuitPolicy {
  threshold: number;
  firstProbeMs: number;
  maxProbeMs: number;
}

export const DEFAULT_CIRCUIT: CircuitPolicy = {
  threshold: CIRCUIT_THRESHOLD,
  firstProbeMs: CIRCUIT_FIRST_PROBE_MS,
  maxProbeMs: CIRCUIT_MAX_PROBE_MS,
};

/** rateLimit or maxInFlight at creation: omitted or null (no limit), or a whole number from 1 to MAX_LIMIT. */
export function validLimit(field: string, value: number | null | undefined): number | null {
  if (value === undefined || value === null) return null;
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw badInput(field, `expected a whole number from 1 to ${MAX_LIMIT}, or null for no limit; got ${value}`);
  }
  return value;
}

/** rateLimit or maxInFlight in an update: omitted or null keeps it (undefined), 0 removes it (null). */
export function validLimitChange(field: string, value: number | null | undefined): number | null | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 0) return null;
  if (!Number.isInteger(value) || value < 0 || value > MAX_LIMIT) {
    throw badInput(field, `expected a whole number from 1 to ${MAX_LIMIT}, or 0 to remove the limit; got ${value}`);
  }
  return value;
}
