import type { AttemptOutcome } from '../../domain/outcome.js';
import type { DeliveryStatus } from '../../domain/statuses.js';
import type { AttemptTimings } from '../../domain/forensics.js';
import type { Db } from './db.js';
import type { Scope } from '../../domain/accounts.js';
import { RATE_WINDOW_MS, DEFAULT_CIRCUIT, type CircuitPolicy, type CircuitState } from '../../domain/protection.js';
import { DUE_CHANNEL } from './channels.js';
import { envelope } from './envelope.js';
import { LANE_DEPTH } from '../../domain/delivery-policy.js';
import type { ObjectKey } from './ordering.js';
import {
  claimedWebhookColumns,
  firstOfObject,
  leaseUntil,
  sendableRow,
  slot,
  unsaturated,
  accountRoom,
  type ClaimRequest,
  type ClaimedDelivery,
} from './claim.js';

// The queue. Every delivery not yet finished has a row in delivery_queue (its
// hot state); deliveries is the log, written at creation and once more at the
// end (migrations/1764800000000-HotQueue.ts says why). A queue row is due when
// next_attempt_at <= now(); the partial index delivery_queue_due covers it. A
// claim pushes next_attempt_at forward by the lease, so a worker that dies
// mid-send simply lets the lease run out and the delivery becomes due again:
// at least once, never lost. attempt_count is raised at claim time and is the
// fencing token: only the worker holding the latest claim may settle the
// delivery.

/** Below every account id: a claim from here starts with the smallest. */
export const FIRST_ACCOUNT = '00000000-0000-0000-0000-000000000000';

/** Accounts the claim looks at, at most, from the cursor on: one index descent each. */
const ACCOUNTS_PER_CLAIM = 64;

/** Queue row `q` is waiting, due or not (parked and held rows are not). */
const waiting = (q: string) => `${q}.next_attempt_at IS NOT NULL AND NOT ${q}.held`;

/**
 * The SET of webhook_flow row `f`'s in-flight claims: those whose lease is not over, but the
 * deliveries of `except` (a uuid[]), with `added` (claims and their lease ends) appended.
 */
const keptClaims = (except: string | null, added?: { ids: string; untils: string }) => {
  const kept = `FROM unnest(f.claims, f.claims_until) u(c, until)
                WHERE until > now()${except ? ` AND c <> ALL (${except})` : ''}`;
  return `claims = ARRAY(SELECT c ${kept})${added ? ` || ${added.ids}` : ''},
          claims_until = ARRAY(SELECT until ${kept})${added ? ` || ${added.untils}` : ''}`;
};

/**
 * The first waiting row of the next account after `after` (in account id
 * order, wrapping around once to the smallest): one descent of
 * delivery_queue_due gives the account and its oldest entry.
 */
const nextAccount = (after: string, wrapped: string) =>
  `SELECT * FROM (
     (SELECT q.account_id, q.next_attempt_at AS head, ${wrapped} AS wrapped FROM delivery_queue q
      WHERE ${waiting('q')} AND q.account_id > ${after} ORDER BY q.account_id, q.next_attempt_at LIMIT 1)
     UNION ALL
     (SELECT q.account_id, q.next_attempt_at, true FROM delivery_queue q
      WHERE ${waiting('q')} AND NOT ${wrapped} ORDER BY q.account_id, q.next_attempt_at LIMIT 1)
   ) o LIMIT 1`;

/** What claimDue took, the account the next claim starts after, and when rows it deferred come due. */
export interface Claim {
  rows: ClaimedDelivery[];
  cursor: string;
  /** The earliest time a delivery this claim deferred for its webhook's limits is due; null: none deferred. */
  wakeAt: Date | null;
}

/** The largest value an int may hold: "no limit" in the gate's arithmetic. */
const NO_ROOM_LIMIT = 2147483647;

/**
 * Claims due deliveries for a worker, the accounts with due work served in
 * turn (issue #19's fairness: one account's backlog must not delay another's
 * events). From the account after `cursor`, up to ACCOUNTS_PER_CLAIM accounts
 * with waiting rows are found by a skip scan; each due one gets a share of the
 * batch (twice an even share, so an account with little due leaves its room
 * to the others) within its room in the worker; the batch is taken round by
 * round (every account's first row, in turn, then every account's second),
 * and the next claim starts after the last account this one reached. Within
 * an account, rows are ranked per webhook after what the worker holds, as
 * before. With one account the statement reads what the former one did
 * (4 × the batch of candidates, oldest first), plus two descents.
 *
 * Endpoint protection (issue #20) is decided here, for every worker at once:
 * - a limited webhook's webhook_flow row is locked (in webhook order, so two
 *   claims cannot deadlock), and its candidates are taken only within its
 *   rateLimit (claims over the last RATE_WINDOW_MS) and maxInFlight (live
 *   claims). The k-th candidate beyond is deferred to when it is expected to
 *   go (k windows ÷ rateLimit, k latencies ÷ maxInFlight: spread, so they come
 *   due as slots free), spending no attempt, so the next claims reach the rows
 *   behind them instead of walking past them; the flow row then records what
 *   was taken.
 *   A webhook without limits has no flow row and pays one index probe.
 * - a row of an open circuit is parked, not sent (sendableRow), unless it is
 *   the probe.
 */
export async function claimDue(db: Db, r: ClaimRequest, cursor = FIRST_ACCOUNT): Promise<Claim> {
  const { rows } = await db.query<ClaimedDelivery & { next_cursor: string; wake_at: Date | null; lease_end: Date }>({
    name: 'hookline-claim',
    text: `WITH RECURSIVE probe AS (
       SELECT nx.account_id, nx.head, 1 AS turn, nx.wrapped FROM (${nextAccount('$7::uuid', 'false')}) nx
       UNION ALL
       SELECT nx.account_id, nx.head, p.turn + 1, nx.wrapped
       FROM probe p CROSS JOIN LATERAL (${nextAccount('p.account_id', 'p.wrapped')}) nx
       WHERE p.turn < ${ACCOUNTS_PER_CLAIM} AND NOT (nx.wrapped AND nx.account_id > $7::uuid)
     ), due AS (
       SELECT p.account_id, p.turn, ${accountRoom('p.account_id', '$8', '$9::uuid[]', '$10::int[]')} AS room
       FROM probe p WHERE p.head <= now()
     ), sized AS (
       SELECT d.account_id, d.turn, least(d.room, ceil(2.0 * $1 / count(*) OVER ())::int) AS take
       FROM due d WHERE d.room > 0
     ), candidates AS (
       -- Each account's oldest due rows (held rows are not in the index), saturated webhooks skipped;
       -- the window caps how many each webhook gets in this batch.
       SELECT c.delivery_id, c.account_id, c.webhook_id, c.next_attempt_at, s.turn, s.take,
              ${slot('c.webhook_id', 'c.next_attempt_at, c.delivery_id', '$3::uuid[]', '$4::int[]')} AS slot,
              row_number() OVER (PARTITION BY c.webhook_id ORDER BY c.next_attempt_at, c.delivery_id) AS wrank
       FROM sized s CROSS JOIN LATERAL (
         SELECT delivery_id, webhook_id, account_id, next_attempt_at FROM delivery_queue c
         WHERE c.account_id = s.account_id AND c.next_attempt_at <= now() AND NOT c.held
           AND ${unsaturated('c.webhook_id', '$5::uuid[]')} AND ${firstOfObject('c')}
         ORDER BY c.next_attempt_at
         LIMIT s.take * 2
       ) c
     ), gates AS (
       -- The limited webhooks among the candidates, their flow rows locked until this claim commits:
       -- a claim waiting here reads the row as the one before it left it.
       SELECT f.webhook_id, w.rate_limit, w.max_in_flight, f.latency_ms,
              coalesce(w.rate_limit - (SELECT count(*) FROM unnest(f.starts) t
                                       WHERE t > now() - ${RATE_WINDOW_MS} * interval '1 millisecond'),
                       ${NO_ROOM_LIMIT}) AS rate_room,
              coalesce(w.max_in_flight - (SELECT count(*) FROM unnest(f.claims_until) t WHERE t > now()),
                       ${NO_ROOM_LIMIT}) AS flight_room
       FROM webhook_flow f JOIN webhooks w ON w.id = f.webhook_id
       WHERE f.webhook_id IN (SELECT webhook_id FROM candidates)
       ORDER BY f.webhook_id
       FOR UPDATE OF f
     ), judged AS (
       SELECT e.*, g.rate_limit IS NOT NULL AS rate_limited,
              g.webhook_id IS NOT NULL AND e.wrank > greatest(least(g.rate_room, g.flight_room), 0) AS deferred,
              now() + greatest(
                CASE WHEN e.wrank > g.rate_room
                     THEN ${RATE_WINDOW_MS} * (e.wrank - greatest(g.rate_room, 0))::float8 / g.rate_limit END,
                CASE WHEN e.wrank > g.flight_room
                     THEN g.latency_ms * (e.wrank - greatest(g.flight_room, 0))::float8 / g.max_in_flight END
              ) * interval '1 millisecond' AS expected
       FROM candidates e LEFT JOIN gates g ON g.webhook_id = e.webhook_id
     ), ranked AS (
       SELECT j.delivery_id, j.account_id, j.turn, j.take,
              row_number() OVER (PARTITION BY j.account_id ORDER BY j.next_attempt_at, j.delivery_id) AS place
       -- A rate-limited delivery must start as soon as it is claimed (START_GRACE_MS): its lane holds what
       -- it can start at once and as many again, which start as the first answers come back.
       FROM judged j WHERE j.slot <= CASE WHEN j.rate_limited THEN 2 * $2 / ${LANE_DEPTH} ELSE $2 END AND NOT j.deferred
     ), picked AS (
       -- FOR UPDATE SKIP LOCKED lets any number of workers claim side by side.
       SELECT q.delivery_id, r.account_id, r.turn FROM delivery_queue q JOIN ranked r ON r.delivery_id = q.delivery_id
       WHERE r.place <= r.take AND q.next_attempt_at <= now()
       ORDER BY r.place, r.turn
       LIMIT $1
       FOR UPDATE OF q SKIP LOCKED
     ), claimed AS (
       UPDATE delivery_queue q SET
         attempt_count = q.attempt_count + CASE WHEN ${sendableRow('w', 'q')} THEN 1 ELSE 0 END,
         next_attempt_at = CASE WHEN ${sendableRow('w', 'q')} THEN ${leaseUntil('$6')} END
       FROM picked, webhooks w, events e
       WHERE q.delivery_id = picked.delivery_id AND w.id = q.webhook_id AND e.id = q.event_id
       RETURNING q.delivery_id AS id, q.event_id, q.webhook_id, q.attempt_count,
         ${sendableRow('w', 'q')} AS send, w.deleted_at IS NOT NULL AS gone, ${claimedWebhookColumns('w')},
         ${envelope('e')} AS body, e.trace_parent, q.probe, q.probes, q.next_attempt_at AS lease_end
     ), flow AS (
       -- What the limited webhooks' claims took: their starts, and their live claims with their lease ends.
       UPDATE webhook_flow f SET
         starts = CASE WHEN g.rate_limit IS NULL THEN '{}' ELSE
                    ARRAY(SELECT t FROM unnest(f.starts) t WHERE t > now() - ${RATE_WINDOW_MS} * interval '1 millisecond')
                    || array_fill(now(), ARRAY[t.n]) END,
         ${keptClaims(null, { ids: 't.ids', untils: 't.untils' })}
       FROM gates g, (SELECT c.webhook_id, count(*)::int AS n, array_agg(c.id) AS ids, array_agg(c.lease_end) AS untils
                      FROM claimed c WHERE c.send GROUP BY c.webhook_id) t
       WHERE f.webhook_id = g.webhook_id AND t.webhook_id = g.webhook_id
     ), waiting AS (
       SELECT q.delivery_id, j.expected FROM delivery_queue q JOIN judged j ON j.delivery_id = q.delivery_id
       WHERE j.deferred AND q.next_attempt_at <= now()
       FOR UPDATE OF q SKIP LOCKED
     ), deferred AS (
       -- Waiting for a limit spends no attempt; the log row shows when the delivery is expected to go.
       UPDATE delivery_queue q SET next_attempt_at = wt.expected FROM waiting wt
       WHERE q.delivery_id = wt.delivery_id RETURNING q.delivery_id, q.next_attempt_at
     ), shown AS (
       UPDATE deliveries d SET next_attempt_at = df.next_attempt_at FROM deferred df WHERE d.id = df.delivery_id
       RETURNING df.next_attempt_at
     ), next AS (
       -- The batch ran out before every due account had a row: the next claim starts after the last
       -- account served; otherwise after the last one looked at.
       SELECT coalesce(
         CASE WHEN (SELECT count(*) FROM sized) > (SELECT count(DISTINCT account_id) FROM picked)
              THEN (SELECT account_id FROM picked ORDER BY turn DESC LIMIT 1) END,
         (SELECT account_id FROM probe ORDER BY turn DESC LIMIT 1),
         $7::uuid) AS cursor,
         (SELECT min(next_attempt_at) FROM shown) AS wake_at
     )
     SELECT c.*, next.cursor::text AS next_cursor, next.wake_at FROM next LEFT JOIN claimed c ON true`,
    values: [
      r.limit,
      r.perWebhookCap,
      r.busyWebhooks,
      r.busyCounts,
      r.saturated,
      r.leaseMs,
      cursor,
      r.perAccountCap,
      r.busyAccounts,
      r.accountCounts,
    ],
  });
  const { next_cursor: next, wake_at: wakeAt } = rows[0]!;
  return {
    rows: rows.filter((row) => row.id !== null).map(({ next_cursor: _, wake_at: __, lease_end: ___, ...row }) => row),
    cursor: next,
    wakeAt,
  };
}

export interface AttemptRecord {
  deliveryId: string;
  webhookId: string;
  /** The webhook's: for the live feed, which shows an account's attempts to its readers alone. */
  accountId: string;
  eventId: string;
  attemptNumber: number;
  outcome: AttemptOutcome;
  responseStatus: number | null;
  responseBody: string | null;
  errorMessage: string | null;
  durationMs: number;
  startedAt: Date;
  nextStatus: DeliveryStatus;
  nextAttemptAt: Date | null;
  /** The trace the attempt's span is in (telemetry/tracing.ts); null when it is in none. */
  traceId?: string | null;
  /** The address connected to (domain/forensics.ts); null: none was. */
  remoteAddress?: string | null;
  responseHeaders?: Record<string, string | number> | null;
  timings?: AttemptTimings | null;
  /** The attempt was its open circuit's probe. */
  probe?: boolean;
}

export interface RecordedAttempt {
  id: string;
  delivery_id: string;
  attempt_number: number;
  /** false when the claim was stale (lease expired and re-claimed, or cancelled): logged, not applied. */
  applied: boolean;
}

export interface WebhookHealth {
  id: string;
  status: string;
  failing_since: Date | null;
  consecutive_failures: number;
  /** The circuit before and after this batch. */
  circuit_was: CircuitState;
  circuit: CircuitState;
}

/**
 * Writes a batch of finished attempts in one statement: the attempt log rows,
 * the deliveries' new state (fenced by attempt number), and each webhook's
 * failure streak. Returns the PER_OBJECT objects whose row finished, for
 * releaseNext (ordering.ts: a statement of its own, after this one). Measured: one statement per batch instead of two per
 * attempt is what lets the worker keep up with the HTTP client.
 */
export async function recordAttempts(
  db: Db,
  batch: AttemptRecord[],
  circuit: CircuitPolicy = DEFAULT_CIRCUIT,
): Promise<{ attempts: RecordedAttempt[]; health: WebhookHealth[]; finishedObjects: ObjectKey[] }> {
  const col = <K extends keyof AttemptRecord>(k: K) => batch.map((a) => a[k]);
  const { rows } = await db.query<{
    kind: 'a' | 'h' | 'o';
    id: string;
    delivery_id: string | null;
    attempt_number: number | null;
    applied: boolean | null;
    status: string | null;
    failing_since: Date | null;
    consecutive_failures: number | null;
    circuit_was: CircuitState | null;
    circuit: CircuitState | null;
  }>({
    name: 'hookline-record',
    text: `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $6::int[], $7::text[],
                            $8::text[], $9::int[], $10::timestamptz[], $11::text[], $12::timestamptz[], $13::text[],
                            $14::bool[], $18::text[], $19::jsonb[], $20::jsonb[])
         AS t(delivery_id, webhook_id, event_id, attempt_number, outcome, response_status, response_body,
              error_message, duration_ms, started_at, next_status, next_at, trace_id, probe,
              remote_address, response_headers, timings)
     ), attempts AS (
       -- A delivery removed meanwhile (pruned, its webhook deleted) gets no attempt row: there is nothing
       -- to attach it to, and the foreign key would fail the whole batch, again and again.
       INSERT INTO delivery_attempts (delivery_id, webhook_id, event_id, attempt_number, outcome, response_status,
                                      response_body, error_message, duration_ms, started_at, trace_id,
                                      remote_address, response_headers, timings)
       SELECT delivery_id, webhook_id, event_id, attempt_number, outcome, response_status, response_body,
              error_message, duration_ms, started_at, trace_id, remote_address, response_headers, timings
       FROM input i
       WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = i.delivery_id)
       RETURNING id, delivery_id, attempt_number
     ), locked AS (
       -- PER_OBJECT queue rows are locked in delivery_id order, as publishing's and replay's tails
       -- lock them, so none of these statements can deadlock with another. Other rows are locked by
       -- no statement but this one (for a batch) and requeue (one row, before its log row, as here):
       -- they need no order, and locking them first would cost each delivery a row lock more.
       SELECT q.delivery_id FROM delivery_queue q JOIN input i ON i.delivery_id = q.delivery_id
       WHERE q.object_key IS NOT NULL
       ORDER BY q.delivery_id FOR UPDATE OF q
     ), finished AS (
       -- Fenced: only the latest claim (its attempt number is the queue row's count) settles a delivery.
       DELETE FROM delivery_queue q USING input i
       WHERE q.delivery_id = i.delivery_id AND q.attempt_count = i.attempt_number AND i.next_status <> 'PENDING'
         AND (SELECT count(*) FROM locked) >= 0
       RETURNING q.delivery_id, q.attempt_count, q.webhook_id, q.object_key
     ), retrying AS (
       -- A failed probe is parked with the rest of its circuit's rows, and the schedule does not count it.
       UPDATE delivery_queue q SET next_attempt_at = i.next_at, probe = false,
         probes = q.probes + CASE WHEN i.probe THEN 1 ELSE 0 END
       FROM input i
       WHERE q.delivery_id = i.delivery_id AND q.attempt_count = i.attempt_number AND i.next_status = 'PENDING'
         AND (SELECT count(*) FROM locked) >= 0
       RETURNING q.delivery_id, q.attempt_count
     ), applied AS (
       SELECT delivery_id, attempt_count FROM finished UNION ALL SELECT delivery_id, attempt_count FROM retrying
     ), settled AS (
       -- The log row's second and last write: no index covers these columns, so it stays on its page (HOT).
       UPDATE deliveries d SET status = i.next_status, next_attempt_at = i.next_at, last_attempt_at = i.started_at,
         attempt_count = i.attempt_number
       FROM input i JOIN applied a ON a.delivery_id = i.delivery_id AND a.attempt_count = i.attempt_number
       WHERE d.id = i.delivery_id
       RETURNING d.id, d.attempt_count
     ), hourly AS (
       -- Webhook.stats' rollups (storage/sql/stats.ts), in key order so concurrent batches lock rows alike.
       INSERT INTO webhook_hourly_stats AS h (webhook_id, hour, attempts, succeeded, failed, duration_ms, last_attempt_at)
       SELECT webhook_id, date_trunc('hour', started_at), count(*), count(*) FILTER (WHERE outcome = 'SUCCESS'),
              count(*) FILTER (WHERE outcome <> 'SUCCESS'), sum(duration_ms), max(started_at)
       FROM input GROUP BY 1, 2 ORDER BY 1, 2
       ON CONFLICT (webhook_id, hour) DO UPDATE SET
         attempts = h.attempts + EXCLUDED.attempts,
         succeeded = h.succeeded + EXCLUDED.succeeded,
         failed = h.failed + EXCLUDED.failed,
         duration_ms = h.duration_ms + EXCLUDED.duration_ms,
         last_attempt_at = greatest(h.last_attempt_at, EXCLUDED.last_attempt_at)
     ), flow_locks AS (
       -- Limited webhooks' flow rows, in webhook order as the claim locks them.
       SELECT f.webhook_id FROM webhook_flow f WHERE f.webhook_id IN (SELECT webhook_id FROM input)
       ORDER BY f.webhook_id FOR UPDATE OF f
     ), flow AS (
       -- Their requests are over: the claims leave the in-flight count, and the latency says when a waiting
       -- delivery is expected to go (a moving average over about five batches).
       UPDATE webhook_flow f SET
         ${keptClaims('x.ids')},
         latency_ms = f.latency_ms * 0.8 + x.ms * 0.2
       FROM (SELECT webhook_id, array_agg(delivery_id) AS ids, avg(duration_ms) AS ms FROM input GROUP BY webhook_id) x
       WHERE f.webhook_id = x.webhook_id AND (SELECT count(*) FROM flow_locks) >= 0
     ), marked AS (
       SELECT webhook_id, outcome, started_at, probe,
              max(started_at) FILTER (WHERE outcome = 'SUCCESS') OVER (PARTITION BY webhook_id) AS last_ok
       FROM input
     ), streaks AS (
       -- Only failures after the batch's last success continue (or start) the streak.
       SELECT webhook_id, last_ok IS NOT NULL AS ok,
              count(*) FILTER (WHERE outcome <> 'SUCCESS' AND (last_ok IS NULL OR started_at > last_ok))::int AS fails,
              min(started_at) FILTER (WHERE outcome <> 'SUCCESS' AND (last_ok IS NULL OR started_at > last_ok)) AS first_fail,
              bool_or(probe AND outcome <> 'SUCCESS') AS probe_failed
       FROM marked GROUP BY webhook_id, last_ok
     ), streak_locks AS (
       -- Webhooks in id order too: two workers' batches about the same webhooks lock them alike. The
       -- locked rows are read as last committed, so two batches never both open (or close) one circuit.
       SELECT w.id, w.circuit_state AS was, w.consecutive_failures AS before FROM webhooks w
       JOIN streaks s ON s.webhook_id = w.id
       WHERE s.fails > 0 OR w.consecutive_failures > 0 OR w.circuit_state <> 'CLOSED'
       ORDER BY w.id FOR NO KEY UPDATE OF w
     ), streak AS (
       SELECT l.id, l.was, s.ok, s.fails, s.first_fail, s.probe_failed,
              CASE WHEN s.ok THEN s.fails ELSE l.before + s.fails END AS failures
       FROM streak_locks l JOIN streaks s ON s.webhook_id = l.id
     ), verdict AS (
       -- The breaker: the threshold of failures in a row opens a closed circuit; a failed probe reopens a
       -- half-open one with twice the interval; a success closes it.
       SELECT t.*, CASE
           WHEN t.was = 'CLOSED' AND t.failures >= $15 THEN 'OPEN'
           WHEN t.was = 'HALF_OPEN' AND t.probe_failed AND NOT t.ok THEN 'OPEN'
           WHEN t.ok AND t.failures < $15 THEN 'CLOSED'
           ELSE t.was END AS circuit
       FROM streak t
     ), health AS (
       UPDATE webhooks w SET
         consecutive_failures = v.failures,
         failing_since = CASE WHEN v.ok THEN v.first_fail ELSE coalesce(w.failing_since, v.first_fail) END,
         circuit_state = v.circuit,
         circuit_opened_at = CASE WHEN v.circuit = 'CLOSED' THEN NULL
                                  WHEN v.was = 'CLOSED' AND v.circuit = 'OPEN' THEN now() ELSE w.circuit_opened_at END,
         circuit_probe_ms = CASE WHEN v.circuit = 'CLOSED' THEN NULL
                                 WHEN v.was = 'CLOSED' AND v.circuit = 'OPEN' THEN $16
                                 WHEN v.was = 'HALF_OPEN' AND v.circuit = 'OPEN' THEN least(coalesce(w.circuit_probe_ms, $16) * 2, $17)
                                 ELSE w.circuit_probe_ms END,
         circuit_next_probe_at = CASE WHEN v.circuit = 'CLOSED' THEN NULL
                                      WHEN v.was = 'CLOSED' AND v.circuit = 'OPEN' THEN now() + $16 * interval '1 millisecond'
                                      WHEN v.was = 'HALF_OPEN' AND v.circuit = 'OPEN'
                                        THEN now() + least(coalesce(w.circuit_probe_ms, $16) * 2, $17) * interval '1 millisecond'
                                      ELSE w.circuit_next_probe_at END
       FROM verdict v
       WHERE w.id = v.id
       RETURNING w.id, w.status, w.failing_since, w.consecutive_failures, v.was AS circuit_was, w.circuit_state
     ), notices AS (
       -- Exactly one notice per change, written with it (storage/sql/notices.ts sends it): a failed probe
       -- reopening the circuit is no change.
       INSERT INTO webhook_notices (webhook_id, action, reason, consecutive_failures, failing_since)
       SELECT h.id, CASE WHEN h.circuit_state = 'OPEN' THEN 'FAILING' ELSE 'RECOVERED' END,
              CASE WHEN h.circuit_state = 'OPEN' THEN h.consecutive_failures || ' failed attempts in a row' END,
              h.consecutive_failures, h.failing_since
       FROM health h
       WHERE (h.circuit_was = 'CLOSED' AND h.circuit_state = 'OPEN') OR (h.circuit_was <> 'CLOSED' AND h.circuit_state = 'CLOSED')
     )
     SELECT 'a' AS kind, a.id, a.delivery_id, a.attempt_number, s.id IS NOT NULL AS applied,
            NULL AS status, NULL::timestamptz AS failing_since, NULL::int AS consecutive_failures,
            NULL AS circuit_was, NULL AS circuit
     FROM attempts a LEFT JOIN settled s ON s.id = a.delivery_id AND s.attempt_count = a.attempt_number
     UNION ALL
     SELECT 'h', h.id, NULL, NULL, NULL, h.status, h.failing_since, h.consecutive_failures, h.circuit_was, h.circuit_state
     FROM health h
     UNION ALL
     SELECT DISTINCT 'o', f.webhook_id, NULL::uuid, NULL::int, NULL::boolean, f.object_key, NULL::timestamptz, NULL::int,
            NULL, NULL
     FROM finished f WHERE f.object_key IS NOT NULL`,
    values: [
      col('deliveryId'),
      col('webhookId'),
      col('eventId'),
      col('attemptNumber'),
      col('outcome'),
      col('responseStatus'),
      col('responseBody'),
      col('errorMessage'),
      col('durationMs'),
      col('startedAt'),
      col('nextStatus'),
      col('nextAttemptAt'),
      col('traceId'),
      batch.map((a) => a.probe ?? false),
      circuit.threshold,
      circuit.firstProbeMs,
      circuit.maxProbeMs,
      col('remoteAddress'),
      batch.map((a) => json(a.responseHeaders)),
      batch.map((a) => json(a.timings)),
    ],
  });
  const attempts: RecordedAttempt[] = [];
  const health: WebhookHealth[] = [];
  const finishedObjects: ObjectKey[] = [];
  for (const r of rows) {
    if (r.kind === 'a')
      attempts.push({ id: r.id, delivery_id: r.delivery_id!, attempt_number: r.attempt_number!, applied: r.applied! });
    else if (r.kind === 'o') finishedObjects.push({ webhookId: r.id, objectKey: r.status! });
    else
      health.push({
        id: r.id,
        status: r.status!,
        failing_since: r.failing_since,
        consecutive_failures: r.consecutive_failures!,
        circuit_was: r.circuit_was!,
        circuit: r.circuit!,
      });
  }
  return { attempts, health, finishedObjects };
}

/** JSON text for a jsonb[] element: pg would send an object as text it cannot cast. */
const json = (v: object | null | undefined) => (v == null ? null : JSON.stringify(v));

/**
 * Claims taken but never started (shutdown, the send gate, a rate-limited claim that missed its start):
 * hand them back without using up an attempt; a limited webhook's in-flight count lets them go.
 */
export async function releaseClaims(db: Db, claims: { id: string; attempt: number }[]): Promise<void> {
  if (claims.length === 0) return;
  await db.query(
    `WITH released AS (
       UPDATE delivery_queue q SET next_attempt_at = now(), attempt_count = q.attempt_count - 1
       FROM unnest($1::uuid[], $2::int[]) AS c(id, attempt)
       WHERE q.delivery_id = c.id AND q.attempt_count = c.attempt
       RETURNING q.webhook_id, q.delivery_id
     ), flow_locks AS (
       SELECT f.webhook_id FROM webhook_flow f WHERE f.webhook_id IN (SELECT webhook_id FROM released)
       ORDER BY f.webhook_id FOR UPDATE OF f
     )
     UPDATE webhook_flow f SET
       ${keptClaims('x.ids')}
     FROM (SELECT webhook_id, array_agg(delivery_id) AS ids FROM released GROUP BY webhook_id) x
     WHERE f.webhook_id = x.webhook_id AND (SELECT count(*) FROM flow_locks) >= 0`,
    [claims.map((c) => c.id), claims.map((c) => c.attempt)],
  );
}

/**
 * Deleting a webhook cancels what it still had queued, except live claims: a
 * claimed request may be on the wire already, and when its attempt is
 * recorded the delivery says what the destination saw. A live claim that was
 * never sent is handed back by the send gate, and the next claim cancels it
 * (as it does one whose worker died, once the lease is over).
 */
export async function cancelPendingForWebhook(db: Db, webhookId: string): Promise<number> {
  const { rowCount } = await db.query(
    `WITH gone AS (
       DELETE FROM delivery_queue q USING deliveries d
       WHERE q.webhook_id = $1 AND d.id = q.delivery_id
         AND NOT (q.next_attempt_at > now() AND q.attempt_count > d.attempt_count)
       RETURNING q.delivery_id
     )
     UPDATE deliveries d SET status = 'CANCELLED', next_attempt_at = NULL FROM gone WHERE d.id = gone.delivery_id`,
    [webhookId],
  );
  return rowCount ?? 0;
}

/** Deliveries a claim found for a webhook deleted meanwhile (a publish raced the delete). */
export async function cancelDeliveries(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `WITH gone AS (DELETE FROM delivery_queue WHERE delivery_id = ANY($1::uuid[]) RETURNING delivery_id)
     UPDATE deliveries d SET status = 'CANCELLED', next_attempt_at = NULL FROM gone WHERE d.id = gone.delivery_id`,
    [ids],
  );
}

/**
 * Puts finished deliveries (and pending ones) back in the queue, due now (parked
 * for a webhook that is not ACTIVE); attempt numbers keep counting. `where`
 * selects deliveries d of webhook w. Returns their ids.
 */
async function requeue(db: Db, where: string, params: unknown[]): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `WITH queued_now AS (
       -- Queue rows first, in delivery_id order, then the log rows: the attempt log's order (recordAttempts).
       SELECT q.delivery_id FROM delivery_queue q JOIN deliveries d ON d.id = q.delivery_id
       JOIN webhooks w ON w.id = d.webhook_id
       WHERE w.deleted_at IS NULL AND ${where}
       ORDER BY q.delivery_id FOR UPDATE OF q
     ), d AS (
       UPDATE deliveries d SET status = 'PENDING', next_attempt_at = CASE WHEN w.status = 'ACTIVE' THEN now() END
       FROM webhooks w
       WHERE w.id = d.webhook_id AND w.deleted_at IS NULL AND ${where} AND (SELECT count(*) FROM queued_now) >= 0
       RETURNING d.id, d.webhook_id, w.account_id, d.event_id, d.next_attempt_at, d.attempt_count
     ), q AS (
       INSERT INTO delivery_queue (delivery_id, webhook_id, account_id, event_id, next_attempt_at, attempt_count)
       SELECT id, webhook_id, account_id, event_id, next_attempt_at, attempt_count FROM d
       -- Still queued (retrying, or in flight): due now; a claim in flight is then stale when it reports.
       -- A PER_OBJECT row stays in its place in its object's order: due as soon as what precedes it is done.
       ON CONFLICT (delivery_id) DO UPDATE SET next_attempt_at = EXCLUDED.next_attempt_at, held = false
       RETURNING delivery_id
     ), notified AS (
       SELECT pg_notify('${DUE_CHANNEL}', '') FROM d WHERE d.next_attempt_at IS NOT NULL LIMIT 1
     )
     SELECT delivery_id AS id FROM q WHERE (SELECT count(*) FROM notified) >= 0`,
    params,
  );
  return rows.map((r) => r.id);
}

/** A fresh attempt now, whatever the delivery's state; attempt numbers keep counting. False: none in the scope. */
export async function redeliver(db: Db, deliveryId: string, scope: Scope): Promise<boolean> {
  const inScope = 'd.id = $1 AND ($2::uuid IS NULL OR w.account_id = $2)';
  return (await requeue(db, inScope, [deliveryId, scope.accountId])).length === 1;
}

/**
 * True when the delivery's event was erased (eraseObject): it is not sent again. Locks the event
 * row (FOR SHARE) until the transaction ends, so an erasure of it waits for a redelivery queued
 * meanwhile, and then cancels it.
 */
export async function eventErasedFor(db: Db, deliveryId: string): Promise<boolean> {
  const { rows } = await db.query<{ erased: boolean }>(
    `SELECT e.erased_at IS NOT NULL AS erased FROM deliveries d JOIN events e ON e.id = d.event_id
     WHERE d.id = $1 FOR SHARE OF e`,
    [deliveryId],
  );
  return rows[0]?.erased ?? false;
}
