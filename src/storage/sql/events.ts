import type { Db } from './db.js';

// Publishing: events and their fan-out in one statement (one round trip, one
// transaction). Each subscription's filter, compiled when it was saved, is
// tested here (`payload @@ filter_path`): an event it does not match creates no
// delivery. Webhooks that are not ACTIVE get a parked delivery (next_attempt_at
// NULL) that resumeWebhook releases. For a PER_OBJECT webhook the queue row
// carries its object and seq, and is held when its object already has a row in
// the queue (ordering.ts says why that is safe). NOTIFY is transactional:
// workers hear about the deliveries only once they are committed.
// Ids are made by the caller so each inserted row can be matched to its request.

export const DUE_CHANNEL = 'hookline_due';

export interface NewEvent {
  id: string;
  resource: string;
  action: string;
  type: string;
  /** The payload as JSON text. */
  payload: string;
  occurredAt: Date | null;
  idempotencyKey: string | null;
}

export interface InsertedEvent {
  id: string;
  occurred_at: Date;
  created_at: Date;
  deliveries: number;
}

/** Inserts the events that are new; one whose idempotency key is taken is left out of the result. */
export async function insertEvents(db: Db, events: NewEvent[]): Promise<InsertedEvent[]> {
  const col = <K extends keyof NewEvent>(k: K) => events.map((e) => e[k]);
  const { rows } = await db.query<InsertedEvent>(
    `WITH input AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[])
         WITH ORDINALITY AS t(id, resource, action, type, payload, occurred_at, idempotency_key, ord)
     ), ev AS (
       INSERT INTO events (id, resource, action, type, payload, occurred_at, idempotency_key)
       SELECT id, resource, action, type, payload::jsonb, coalesce(occurred_at, now()), idempotency_key
       FROM input ORDER BY ord
       ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING id, resource, action, payload, seq, occurred_at, created_at
     ), fan AS (
       SELECT ev.id AS event_id, s.webhook_id, w.status = 'ACTIVE' AS active, ev.seq,
              CASE WHEN w.ordering = 'PER_OBJECT' THEN ev.resource || ':' || (ev.payload ->> 'id') END AS object_key
       FROM ev
       JOIN webhook_subscriptions s ON s.resource = ev.resource AND s.action = ev.action
       JOIN webhooks w ON w.id = s.webhook_id AND w.deleted_at IS NULL
       WHERE s.filter_path IS NULL OR ev.payload @@ s.filter_path
     ), d AS (
       INSERT INTO deliveries (event_id, webhook_id, next_attempt_at)
       SELECT event_id, webhook_id, CASE WHEN active THEN now() END FROM fan
       RETURNING id, event_id, webhook_id, next_attempt_at
     ), tails AS (
       -- The newest queued row of each object, locked until this commits (ordering.ts).
       SELECT k.webhook_id, k.object_key
       FROM (SELECT DISTINCT webhook_id, object_key FROM fan WHERE object_key IS NOT NULL) k
       CROSS JOIN LATERAL (
         SELECT 1 FROM delivery_queue t
         WHERE t.webhook_id = k.webhook_id AND t.object_key = k.object_key
         ORDER BY t.seq DESC LIMIT 1
         FOR KEY SHARE
       ) t
     ), queued AS (
       INSERT INTO delivery_queue (delivery_id, webhook_id, event_id, next_attempt_at, object_key, seq, held)
       SELECT d.id, d.webhook_id, d.event_id, d.next_attempt_at, f.object_key,
              CASE WHEN f.object_key IS NOT NULL THEN f.seq END,
              f.object_key IS NOT NULL AND (
                row_number() OVER (PARTITION BY d.webhook_id, f.object_key ORDER BY f.seq) > 1
                OR EXISTS (SELECT 1 FROM tails t WHERE t.webhook_id = d.webhook_id AND t.object_key = f.object_key))
       FROM d JOIN fan f ON f.event_id = d.event_id AND f.webhook_id = d.webhook_id
     ), n AS (
       SELECT event_id, count(*)::int AS deliveries, count(next_attempt_at)::int AS due FROM d GROUP BY event_id
     ), notified AS (
       SELECT pg_notify('${DUE_CHANNEL}', '') FROM n WHERE due > 0 LIMIT 1
     )
     SELECT ev.id, ev.occurred_at, ev.created_at, coalesce(n.deliveries, 0) AS deliveries
     FROM ev LEFT JOIN n ON n.event_id = ev.id
     WHERE (SELECT count(*) FROM notified) >= 0`,
    [col('id'), col('resource'), col('action'), col('type'), col('payload'), col('occurredAt'), col('idempotencyKey')],
  );
  return rows;
}

export interface StoredEvent {
  id: string;
  resource: string;
  action: string;
  type: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
  created_at: Date;
  idempotency_key: string | null;
  is_test: boolean;
}

export async function eventsByIdempotencyKeys(db: Db, keys: string[]): Promise<StoredEvent[]> {
  const { rows } = await db.query<StoredEvent>('SELECT * FROM events WHERE idempotency_key = ANY($1::text[])', [keys]);
  return rows;
}

/** A test event goes to one webhook only, whatever it subscribes to. */
export async function insertTestEvent(
  db: Db,
  e: Omit<NewEvent, 'id' | 'idempotencyKey' | 'occurredAt'>,
  webhookId: string,
): Promise<{ eventId: string; deliveryId: string }> {
  const { rows } = await db.query<{ event_id: string; delivery_id: string }>(
    `WITH ev AS (
       INSERT INTO events (resource, action, type, payload, occurred_at, is_test)
       VALUES ($1, $2, $3, $4::jsonb, now(), true)
       RETURNING id
     ), d AS (
       INSERT INTO deliveries (event_id, webhook_id, next_attempt_at)
       SELECT ev.id, w.id, CASE WHEN w.status = 'ACTIVE' THEN now() END
       FROM ev, webhooks w WHERE w.id = $5
       RETURNING id, event_id, webhook_id, next_attempt_at
     ), queued AS (
       INSERT INTO delivery_queue (delivery_id, webhook_id, event_id, next_attempt_at)
       SELECT id, webhook_id, event_id, next_attempt_at FROM d
     )
     SELECT d.event_id, d.id AS delivery_id, pg_notify('${DUE_CHANNEL}', '') FROM d`,
    [e.resource, e.action, e.type, e.payload, webhookId],
  );
  const row = rows[0];
  if (!row) throw new Error(`webhook ${webhookId} vanished while sending a test event`);
  return { eventId: row.event_id, deliveryId: row.delivery_id };
}
