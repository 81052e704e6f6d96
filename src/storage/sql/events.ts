import type { Db } from './db.js';
import {
  claimedWebhookColumns,
  claimedWebhookJson,
  leaseUntil,
  sendable,
  slot,
  unguarded,
  unsaturated,
  type ClaimRequest,
  type ClaimedDelivery,
} from './claim.js';
import { DUE_CHANNEL } from './channels.js';
import { envelope } from './envelope.js';
import { MAX_FILTER_COST, REACH_FLOOR, filterReach, type FilterTerm } from '../../domain/filter.js';

// Publishing: events and their fan-out in one statement (one round trip, one
// transaction), and, with a worker in this process, the claim of what it can
// take at once (FastClaim). Each subscription's filter, compiled when it was saved, is
// tested here (`payload @@ filter_path`): an event it does not match creates no
// delivery. Webhooks that are not ACTIVE get a parked delivery (next_attempt_at
// NULL) that resumeWebhook releases. For a PER_OBJECT webhook the queue row
// carries its object and seq, and is held when its object already has a row in
// the queue (ordering.ts says why that is safe). NOTIFY is transactional:
// workers hear about the deliveries only once they are committed.
// Ids are made by the caller so each inserted row can be matched to its request.
//
// A filter costs PostgreSQL memory for every step of its evaluation (domain/filter.ts,
// with the measurements): before testing one against a payload that has a field
// reaching more than REACH_FLOOR values (events.filter_reach, rarely set), the
// statement prices it with the terms saved with it, and above MAX_FILTER_COST
// raises HL001 (hookline_filter_refused): the whole statement fails, nothing is
// stored, and the service names the field. Without a reach no filter can cost
// more than the bound (their weight is limited when saved), so the usual
// publish pays one NULL test per filtered subscription: one event to 25 webhooks (20
// filtered), p50 0.53-0.54 ms, 0.50-0.53 ms before the bound (runs differ by ±0.03 ms).

/** SQLSTATE of hookline_filter_refused (migrations/1765100000000-FilterCost.ts). */
const FILTER_REFUSED = 'HL001';

export interface NewEvent {
  id: string;
  /** The account it is published in: it fans out to that account's webhooks alone. */
  accountId: string;
  resource: string;
  action: string;
  type: string;
  /** The payload as JSON text. */
  payload: string;
  occurredAt: Date | null;
  idempotencyKey: string | null;
  /**
   * filterReach of the payload (domain/filter.ts) as JSON text, null for the usual payload;
   * when absent, computed here from the payload text (the service passes it, having the payload parsed).
   */
  filterReach?: string | null;
  /** The trace the event belongs to, as a traceparent (telemetry/tracing.ts); delivery workers continue it. */
  traceParent?: string | null;
  /** A notice (storage/sql/notices.ts): the webhook it is about, which never receives it. */
  aboutWebhookId?: string | null;
}

export interface InsertedEvent {
  id: string;
  occurred_at: Date;
  created_at: Date;
  deliveries: number;
  /** Deliveries of this event the statement claimed for the local worker (the fast path). */
  claimed: ClaimedDelivery[];
}

/**
 * The fast path: the publishing statement itself claims up to `limit` of the
 * deliveries it creates for the worker of this process, with the claim's own
 * rules (ACTIVE webhooks without limits and with a closed circuit, whose
 * claims are the claim's to decide (deliveries.ts), per-webhook and per-account caps counting what the
 * worker holds, saturated webhooks skipped; PER_OBJECT deliveries always go through the
 * claim's order check), and returns them ready to send: no NOTIFY, listener
 * wake-up and claim statement between a publish and its first attempt. The
 * queue stays the truth: a claimed row has its lease and fencing attempt
 * number like any other, so if this process dies before sending, the lease
 * runs out and any worker sends it. Measured with bench/probe-e2e.js at 200
 * publishes/s: the POST reaches the receiver 0.0 ms (p50) after the publish
 * has been answered, and end to end went from 11 ms to 3.6-3.8 ms p50 (with
 * the statements prepared, below).
 */
export type FastClaim = ClaimRequest;

const NO_CLAIM: FastClaim = {
  limit: 0,
  perWebhookCap: 0,
  busyWebhooks: [],
  busyCounts: [],
  saturated: [],
  perAccountCap: 0,
  busyAccounts: [],
  accountCounts: [],
  leaseMs: 0,
};

type ClaimedJson = Omit<ClaimedDelivery, 'previous_hmac_expires_at' | 'previous_signing_expires_at'> & {
  previous_hmac_expires_at: string | null;
  previous_signing_expires_at: string | null;
};

/** A payload's filterReach as the JSON text insertEvents stores; null when no field reaches far. */
export function reachText(payload: unknown): string | null {
  const reach = filterReach(payload);
  return reach && JSON.stringify(reach);
}

/** filterCost (domain/filter.ts) of a subscription's terms against an event's reach, in SQL. */
const filterCost = (terms: string, reach: string) =>
  `(SELECT sum((t.v ->> 'terms')::bigint
                 * (1 + (SELECT coalesce(sum(coalesce((${reach} ->> p)::bigint, ${REACH_FLOOR})), 0)
                         FROM jsonb_array_elements_text(t.v -> 'prefixes') p))
               + (t.v ->> 'comparisons')::bigint * coalesce((${reach} ->> (t.v ->> 'path'))::bigint, ${REACH_FLOOR}))
    FROM jsonb_array_elements(${terms}) t(v))`;

/**
 * True when subscription `s` takes event `e` (its payload, filter_reach and id):
 * no filter, or a filter that matches. A filter is priced first when the
 * payload reaches far, and above MAX_FILTER_COST raises HL001 naming the
 * event and `webhook`: the statement fails whole. For every statement that
 * tests filters (publishing, replay).
 */
export const filterTakes = (e: string, s: string, webhook: string) =>
  `(${s}.filter_path IS NULL OR CASE
     WHEN ${e}.filter_reach IS NOT NULL AND ${filterCost(`${s}.filter_terms`, `${e}.filter_reach`)} > ${MAX_FILTER_COST}
       THEN hookline_filter_refused(${e}.id, ${webhook}, ${s}.filter_terms)
     ELSE ${e}.payload @@ ${s}.filter_path
   END)`;

/** A statement refused because a subscribed filter costs more than MAX_FILTER_COST against an event's payload. */
export interface FilterRefusal {
  eventId: string;
  webhookId: string;
  terms: FilterTerm[];
}

/** The refusal an error of insertEvents carries, or null for any other error. */
export function filterRefusal(e: unknown): FilterRefusal | null {
  const err = e as { code?: unknown; detail?: unknown };
  if (err?.code !== FILTER_REFUSED || typeof err.detail !== 'string') return null;
  const d = JSON.parse(err.detail) as { event: string; webhook: string; terms: FilterTerm[] };
  return { eventId: d.event, webhookId: d.webhook, terms: d.terms };
}

/**
 * True for a statement the database cancelled (SQLSTATE 57014): its statement_timeout
 * (storage/pool.ts) ran out, or an operator cancelled it. Nothing of it was stored.
 */
export function wasCancelled(e: unknown): boolean {
  return (e as { code?: unknown })?.code === '57014';
}

/** Inserts the events that are new; one whose idempotency key is taken is left out of the result. */
export async function insertEvents(db: Db, events: NewEvent[], claim: FastClaim = NO_CLAIM): Promise<InsertedEvent[]> {
  const col = <K extends keyof NewEvent>(k: K) => events.map((e) => e[k]);
  const { rows } = await db.query<Omit<InsertedEvent, 'claimed'> & { claimed: ClaimedJson[] | null }>({
    // Prepared once per connection: planning this statement was 1.3 ms of the 2.0 ms one publish of one
    // event cost (p50, measured with insertEvents alone); named, it costs 0.74 ms. The claim, the
    // attempt log and the release are named for the same reason.
    name: 'hookline-publish',
    text: `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
                            $14::text[], $15::uuid[], $16::text[], $20::uuid[])
         WITH ORDINALITY AS t(id, resource, action, type, payload, occurred_at, idempotency_key, filter_reach,
                              account_id, trace_parent, about_webhook_id, ord)
     ), ev AS (
       -- Only into a live account: an event for one deleted meanwhile is left out of the result, and the
       -- service (accountless, in services/events.ts) tells that from an idempotency key already taken.
       INSERT INTO events (id, account_id, resource, action, type, payload, occurred_at, idempotency_key, filter_reach,
                           trace_parent, about_webhook_id)
       SELECT i.id, i.account_id, i.resource, i.action, i.type, i.payload::jsonb, coalesce(i.occurred_at, now()),
              i.idempotency_key, i.filter_reach::jsonb, i.trace_parent, i.about_webhook_id
       FROM input i JOIN accounts a ON a.id = i.account_id AND a.deleted_at IS NULL
       ORDER BY i.ord
       ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING id, account_id, resource, action, type, payload, seq, occurred_at, created_at, is_test, filter_reach,
                 trace_parent, about_webhook_id
     ), matched AS (
       -- Every subscribed webhook whose filter matches, the delivery's id made here: the rows below
       -- read this one list instead of joining the inserted deliveries back to it (planned as a
       -- nested loop on the CTEs' one-row estimates, that join cost 90 ms for a fan-out to 1,000).
       SELECT hookline_uuid_v7() AS delivery_id, ev.id AS event_id, ev.seq, s.webhook_id,
              ${sendable('w')} AS active, ${unguarded('w')} AS unguarded,
              CASE WHEN w.ordering = 'PER_OBJECT' THEN ev.resource || ':' || (ev.payload ->> 'id') END AS object_key,
              ${claimedWebhookColumns('w')}
       FROM ev
       -- Within the event's account only, by the fan-out index (account, resource, action).
       JOIN webhook_subscriptions s ON s.account_id = ev.account_id AND s.resource = ev.resource AND s.action = ev.action
       -- A notice is never sent to the webhook it is about.
       JOIN webhooks w ON w.id = s.webhook_id AND w.deleted_at IS NULL AND w.id IS DISTINCT FROM ev.about_webhook_id
       -- Naming w.id, the test is made only once joined to a live webhook: a deleted one's filter refuses nothing.
       WHERE ${filterTakes('ev', 's', 'w.id')}
     ), slotted AS (
       -- The fast path's candidates, ranked per webhook as the claim ranks them (claim.ts).
       SELECT m.*,
              $8 > 0 AND m.active AND m.unguarded AND m.object_key IS NULL AND ${unsaturated('m.webhook_id', '$12::uuid[]')} AS eligible,
              ${slot('m.webhook_id', 'm.seq', '$10::uuid[]', '$11::int[]')} AS slot,
              ${slot('m.account_id', 'm.seq, m.webhook_id', '$17::uuid[]', '$18::int[]')} AS account_slot
       FROM matched m
     ), fan AS (
       SELECT x.*, x.eligible AND x.slot <= $9 AND x.account_slot <= $19
                   AND count(*) FILTER (WHERE x.eligible AND x.slot <= $9 AND x.account_slot <= $19)
                         OVER (ORDER BY x.seq, x.webhook_id ROWS UNBOUNDED PRECEDING) <= $8 AS claimed
       FROM slotted x
     ), d AS (
       INSERT INTO deliveries (id, event_id, webhook_id, next_attempt_at)
       SELECT delivery_id, event_id, webhook_id, CASE WHEN active THEN now() END FROM fan
     ), newest AS (
       SELECT t.delivery_id
       FROM (SELECT DISTINCT webhook_id, object_key FROM fan WHERE object_key IS NOT NULL) k
       CROSS JOIN LATERAL (
         SELECT delivery_id FROM delivery_queue t
         WHERE t.webhook_id = k.webhook_id AND t.object_key = k.object_key
         ORDER BY t.seq DESC LIMIT 1
       ) t
     ), tails AS (
       -- The newest queued row of each object, locked until this commits (ordering.ts), in delivery_id
       -- order as the attempt log locks (deliveries.ts). One that finished meanwhile is skipped: nothing
       -- of its object is queued before the new row then, so it is not held.
       SELECT t.webhook_id, t.object_key FROM delivery_queue t JOIN newest n ON n.delivery_id = t.delivery_id
       ORDER BY t.delivery_id FOR KEY SHARE OF t
     ), queued AS (
       INSERT INTO delivery_queue (delivery_id, webhook_id, account_id, event_id, next_attempt_at, attempt_count, object_key, seq, held)
       SELECT f.delivery_id, f.webhook_id, f.account_id, f.event_id,
              CASE WHEN f.claimed THEN ${leaseUntil('$13')} WHEN f.active THEN now() END,
              CASE WHEN f.claimed THEN 1 ELSE 0 END,
              f.object_key,
              CASE WHEN f.object_key IS NOT NULL THEN f.seq END,
              f.object_key IS NOT NULL AND (
                row_number() OVER (PARTITION BY f.webhook_id, f.object_key ORDER BY f.seq) > 1
                OR EXISTS (SELECT 1 FROM tails t WHERE t.webhook_id = f.webhook_id AND t.object_key = f.object_key))
       FROM fan f
     ), n AS (
       SELECT event_id, count(*)::int AS deliveries FROM fan GROUP BY event_id
     ), notified AS (
       -- Other workers need to hear only of what the fast path left.
       SELECT pg_notify('${DUE_CHANNEL}', '') FROM fan WHERE active AND NOT claimed LIMIT 1
     )
     SELECT ev.id, ev.occurred_at, ev.created_at, coalesce(n.deliveries, 0) AS deliveries,
            (SELECT json_agg(json_build_object(
                'id', f.delivery_id, 'event_id', f.event_id, 'webhook_id', f.webhook_id, 'attempt_count', 1,
                'send', true, 'gone', false, ${claimedWebhookJson('f')}, 'body', ${envelope('ev')},
                'trace_parent', ev.trace_parent, 'probe', false, 'probes', 0))
             FROM fan f WHERE f.event_id = ev.id AND f.claimed) AS claimed
     FROM ev LEFT JOIN n ON n.event_id = ev.id
     WHERE (SELECT count(*) FROM notified) >= 0`,
    values: [
      col('id'),
      col('resource'),
      col('action'),
      col('type'),
      col('payload'),
      col('occurredAt'),
      col('idempotencyKey'),
      claim.limit,
      claim.perWebhookCap,
      claim.busyWebhooks,
      claim.busyCounts,
      claim.saturated,
      claim.leaseMs,
      events.map((e) => (e.filterReach === undefined ? reachText(JSON.parse(e.payload)) : e.filterReach)),
      col('accountId'),
      col('traceParent'),
      claim.busyAccounts,
      claim.accountCounts,
      claim.perAccountCap,
      events.map((e) => e.aboutWebhookId ?? null),
    ],
  });
  const at = (t: string | null) => (t === null ? null : new Date(t));
  return rows.map((r) => ({
    ...r,
    claimed: (r.claimed ?? []).map((c) => ({
      ...c,
      previous_hmac_expires_at: at(c.previous_hmac_expires_at),
      previous_signing_expires_at: at(c.previous_signing_expires_at),
    })),
  }));
}

export interface StoredEvent {
  id: string;
  account_id: string;
  resource: string;
  action: string;
  type: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
  created_at: Date;
  idempotency_key: string | null;
  is_test: boolean;
  /** Set by eraseObject: the payload is {id} alone. */
  erased_at: Date | null;
  trace_parent: string | null;
}

/** The events holding these idempotency keys, each in its account. */
export async function eventsByIdempotencyKeys(
  db: Db,
  keys: { accountId: string; key: string }[],
): Promise<StoredEvent[]> {
  const { rows } = await db.query<StoredEvent>(
    `SELECT e.* FROM unnest($1::uuid[], $2::text[]) k(account_id, key)
     JOIN events e ON e.account_id = k.account_id AND e.idempotency_key = k.key`,
    [keys.map((k) => k.accountId), keys.map((k) => k.key)],
  );
  return rows;
}

/** A test event goes to one webhook only, whatever it subscribes to; it is of the webhook's account. */
export async function insertTestEvent(
  db: Db,
  e: Omit<NewEvent, 'id' | 'idempotencyKey' | 'occurredAt' | 'accountId' | 'filterReach'>,
  webhookId: string,
): Promise<{ eventId: string; deliveryId: string }> {
  const { rows } = await db.query<{ event_id: string; delivery_id: string }>(
    `WITH ev AS (
       INSERT INTO events (account_id, resource, action, type, payload, occurred_at, is_test, trace_parent)
       SELECT account_id, $1, $2, $3, $4::jsonb, now(), true, $6 FROM webhooks WHERE id = $5
       RETURNING id
     ), d AS (
       INSERT INTO deliveries (event_id, webhook_id, next_attempt_at)
       SELECT ev.id, w.id, CASE WHEN w.status = 'ACTIVE' THEN now() END
       FROM ev, webhooks w WHERE w.id = $5
       RETURNING id, event_id, webhook_id, next_attempt_at
     ), queued AS (
       INSERT INTO delivery_queue (delivery_id, webhook_id, account_id, event_id, next_attempt_at)
       SELECT id, webhook_id, (SELECT account_id FROM webhooks WHERE id = $5), event_id, next_attempt_at FROM d
     )
     SELECT d.event_id, d.id AS delivery_id, pg_notify('${DUE_CHANNEL}', '') FROM d`,
    [e.resource, e.action, e.type, e.payload, webhookId, e.traceParent],
  );
  const row = rows[0];
  if (!row) throw new Error(`webhook ${webhookId} vanished while sending a test event`);
  return { eventId: row.event_id, deliveryId: row.delivery_id };
}
