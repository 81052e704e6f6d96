// The delivery policy's constants and the lease formula, stated once; other
// places refer here instead of restating them.

/** ±20 % random jitter on every retry delay (delivery contract, "Outcome of an attempt"). */
export const RETRY_JITTER = 0.2;

/**
 * A webhook's lane in a worker holds LANE_DEPTH × perWebhookConcurrency
 * deliveries (in flight plus claimed and waiting). Measured on a 20,000-event
 * drain to one webhook: at 2× the lane ran dry while the refill claim was out.
 */
export const LANE_DEPTH = 4;

/**
 * How long a claim holds a delivery: the wait in its lane (at most
 * LANE_DEPTH − 1 attempts of every slot ahead of it, each up to the timeout),
 * the attempt itself, and 15 s to write the result. It is also how long a
 * crashed worker's deliveries wait before another worker takes them.
 */
export function leaseFor(timeoutMs: number): number {
  return timeoutMs * LANE_DEPTH + 15_000;
}
