import type { StoredHeader } from '../../domain/headers.js';

// The claim rule, written once. Two statements claim queue rows for a worker:
// claimDue (deliveries.ts), and the publishing statement's fast path
// (events.ts), which claims some of the rows it creates for the worker of its
// own process. Both take a row only for a webhook that may be sent to now,
// rank each webhook's candidates after what the worker already holds of it,
// skip webhooks whose lane is full, lease what they take, and hand the worker
// the same record. ordering.ts says why firstOfObject keeps PER_OBJECT order
// (the fast path never claims PER_OBJECT rows).

/** A claimed delivery, ready to send: the queue row, its webhook's state at claim time, the envelope. */
export interface ClaimedDelivery {
  id: string;
  event_id: string;
  webhook_id: string;
  /** The webhook's account. */
  account_id: string;
  attempt_count: number;
  /** false: the webhook is paused, disabled or deleted; the row was parked instead (deleted: see `gone`). */
  send: boolean;
  /** The webhook was deleted: the delivery is to be cancelled (cancelDeliveries). */
  gone: boolean;
  destination_url: string;
  /** Secrets as stored: sealed (services/secrets.ts opens them). */
  bearer_token: string | null;
  hmac_secret: string | null;
  previous_hmac_secret: string | null;
  previous_hmac_expires_at: Date | null;
  signing_key: string | null;
  previous_signing_key: string | null;
  previous_signing_expires_at: Date | null;
  /** webhooks.version when claimed: the send gate (delivery/send-gate.ts) compares it before sending. */
  version: string;
  /** Send a traceparent header with the request (Webhook.sendTraceparent). */
  send_traceparent: boolean;
  /** Custom headers, secret values sealed (delivery/outgoing.ts opens them). */
  headers: StoredHeader[];
  body: string;
  /** The event's trace context (events.trace_parent): its deliveries continue the publisher's trace. */
  trace_parent: string | null;
  /** The webhook has a maxInFlight: a slot is free again once the attempt is written (webhook_flow). */
  flight_limited: boolean;
  /** The webhook has a rateLimit: the request must start within START_GRACE_MS of the claim (domain/protection.ts). */
  rate_limited: boolean;
  /** The probe of the webhook's open circuit. */
  probe: boolean;
  /** Attempts of this delivery that were probes: the retry schedule does not count them. */
  probes: number;
}

/** What the worker can take now (delivery/lanes.ts sizes it). */
export interface ClaimRequest {
  limit: number;
  perWebhookCap: number;
  /** Webhooks with requests in flight in this worker, and how many. */
  busyWebhooks: string[];
  busyCounts: number[];
  /** Webhooks already at the cap: skipped while scanning, so they cannot starve the others. */
  saturated: string[];
  /** Deliveries one account may hold in the worker, in flight and waiting: the rest is other accounts' room. */
  perAccountCap: number;
  /** Accounts with deliveries held in this worker, and how many. */
  busyAccounts: string[];
  accountCounts: number[];
  leaseMs: number;
}

/** Webhook `w` may be sent to now. */
export const sendable = (w: string) => `(${w}.status = 'ACTIVE' AND ${w}.deleted_at IS NULL)`;

/**
 * Webhook `w` may be sent queue row `q` now: sendable, and its circuit is
 * closed or `q` is its probe. A row of an open circuit is parked like a paused
 * webhook's, keeping its attempts; closing the circuit releases them
 * (storage/sql/notices.ts).
 */
export const sendableRow = (w: string, q: string) =>
  `(${sendable(w)} AND (${w}.circuit_state = 'CLOSED' OR ${q}.probe))`;

/** Webhook `w` has no limit and a closed circuit: the publishing statement's fast path may claim for it. */
export const unguarded = (w: string) =>
  `(${w}.rate_limit IS NULL AND ${w}.max_in_flight IS NULL AND ${w}.circuit_state = 'CLOSED')`;

/** A candidate's place among its webhook's candidates (in `order`), counted after what the worker holds of it. */
export const slot = (webhookId: string, order: string, busyIds: string, busyCounts: string) =>
  `row_number() OVER (PARTITION BY ${webhookId} ORDER BY ${order})
     + coalesce((${busyCounts})[array_position(${busyIds}, ${webhookId})], 0)`;

/** Room left for the account of `accountId` in the worker, from the request's busyAccounts and accountCounts. */
export const accountRoom = (accountId: string, cap: string, busyIds: string, busyCounts: string) =>
  `${cap} - coalesce((${busyCounts})[array_position(${busyIds}, ${accountId})], 0)`;

/** The webhook's lane is not full. */
export const unsaturated = (webhookId: string, saturated: string) => `${webhookId} <> ALL (${saturated})`;

/** PER_OBJECT: nothing earlier about the same object is still queued (queue row `c`). */
export const firstOfObject = (c: string) =>
  `(${c}.object_key IS NULL OR NOT EXISTS (
     SELECT 1 FROM delivery_queue p
     WHERE p.webhook_id = ${c}.webhook_id AND p.object_key = ${c}.object_key AND p.seq < ${c}.seq))`;

/** Until when a claim made now holds its row. */
export const leaseUntil = (ms: string) => `now() + ${ms} * interval '1 millisecond'`;

/** The webhook columns of a ClaimedDelivery, as read from webhook `w`. */
export const claimedWebhookColumns = (w: string) =>
  `${w}.account_id, ${w}.destination_url, ${w}.bearer_token, ${w}.hmac_secret, ${w}.previous_hmac_secret, ${w}.previous_hmac_expires_at,
   ${w}.signing_key, ${w}.previous_signing_key, ${w}.previous_signing_expires_at, ${w}.version::text AS version,
   ${w}.send_traceparent, ${w}.headers, ${w}.rate_limit IS NOT NULL AS rate_limited,
   ${w}.max_in_flight IS NOT NULL AS flight_limited`;

/** The same columns as json_build_object arguments, from a row `f` that selected claimedWebhookColumns. */
export const claimedWebhookJson = (f: string) =>
  [
    'account_id',
    'destination_url',
    'bearer_token',
    'hmac_secret',
    'previous_hmac_secret',
    'previous_hmac_expires_at',
    'signing_key',
  ]
    .concat(['previous_signing_key', 'previous_signing_expires_at', 'version', 'send_traceparent', 'headers'])
    .concat(['rate_limited', 'flight_limited'])
    .map((c) => `'${c}', ${f}.${c}`)
    .join(', ');
