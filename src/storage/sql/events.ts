import type { Db } from './db.js';

// Publishing: the event and its fan-out in one statement (one round trip, one
// implicit transaction). Webhooks that are not ACTIVE get a parked delivery
// (next_attempt_at NULL) that resumeWebhook releases. NOTIFY is transactional:
// workers hear about the deliveries only once they are committed.

export const DUE_CHANNEL = 'hookline_due';

export interface NewEvent {
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

export async function insertEventWithDeliveries(db: Db, e: NewEvent): Promise<InsertedEvent | null> {
  const { rows } = await db.query<InsertedEvent>(
    `WITH ev AS (
       INSERT INTO events (resource, action, type, payload, occurred_at, idempotency_key)
       VALUES ($1, $2, $3, $4::jsonb, coalesce($5::timestamptz, now()), $6)
       ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
       RETURNING id, occurred_at, created_at
     ), d AS (
       INSERT INTO deliveries (event_id, webhook_id, next_attempt_at)
       SELECT ev.id, s.webhook_id, CASE WHEN w.status = 'ACTIVE' THEN now() END
       FROM ev
       JOIN webhook_subscriptions s ON s.resource = $1 AND s.action = $2
       JOIN webhooks w ON w.id = s.webhook_id AND w.deleted_at IS NULL
       RETURNING next_attempt_at
     ), n AS (
       SELECT count(*)::int AS deliveries, count(next_attempt_at) AS due FROM d
     )
     SELECT ev.id, ev.occurred_at, ev.created_at, n.deliveries, CASE WHEN n.due > 0 THEN pg_notify('${DUE_CHANNEL}', '') END AS notified
     FROM ev, n`,
    [e.resource, e.action, e.type, e.payload, e.occurredAt, e.idempotencyKey],
  );
  return rows[0] ?? null;
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

export async function eventByIdempotencyKey(db: Db, key: string): Promise<StoredEvent | null> {
  const { rows } = await db.query<StoredEvent>('SELECT * FROM events WHERE idempotency_key = $1', [key]);
  return rows[0] ?? null;
}

/** A test event goes to one webhook only, whatever it subscribes to. */
export async function insertTestEvent(
  db: Db,
  e: Omit<NewEvent, 'idempotencyKey' | 'occurredAt'>,
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
       RETURNING id, event_id
     )
     SELECT d.event_id, d.id AS delivery_id, pg_notify('${DUE_CHANNEL}', '') FROM d`,
    [e.resource, e.action, e.type, e.payload, webhookId],
  );
  const row = rows[0];
  if (!row) throw new Error(`webhook ${webhookId} vanished while sending a test event`);
  return { eventId: row.event_id, deliveryId: row.delivery_id };
}
