import assert from 'node:assert/strict';
import { eventually } from './eventually.js';
import { must, type GqlResult } from './gql.js';
import type { Received, Receiver } from './receiver.js';
import { openStored, type TestServer } from './server.js';

// Helpers over the public GraphQL API (and, for setting up time, plain SQL on
// the server's database). One signature each, shared by every test file.

/** A subscription: (resource, action) and, optionally, its payload filter. */
export type Pair = [resource: string, action: string, filter?: Record<string, unknown>];

/** Anything that answers GraphQL the way a server does: an in-process TestServer or a spawned ServerProcess. */
export type Api = Pick<TestServer, 'gql'>;

export interface CreateOpts {
  url: string;
  subs?: Pair[];
  name?: string;
  bearerToken?: string;
  hmacSecret?: string;
  generateHmacSecret?: boolean;
  ordering?: 'NONE' | 'PER_OBJECT';
}

export interface CreatedWebhook {
  id: string;
  status: string;
  hasHmacSecret: boolean;
  hasBearerToken: boolean;
  generatedHmacSecret: string | null;
}

export async function createWebhook(s: Api, o: CreateOpts): Promise<CreatedWebhook> {
  const input: Record<string, unknown> = {
    name: o.name ?? 'test webhook',
    destinationUrl: o.url,
    subscriptions: (o.subs ?? []).map(([resource, action, filter]) => ({ resource, action, filter })),
  };
  if (o.ordering !== undefined) input.ordering = o.ordering;
  if (o.bearerToken !== undefined) input.bearerToken = o.bearerToken;
  if (o.hmacSecret !== undefined) input.hmacSecret = o.hmacSecret;
  if (o.generateHmacSecret !== undefined) input.generateHmacSecret = o.generateHmacSecret;
  const r = await s.gql<{ createWebhook: CreatedWebhook }>(
    `mutation($input: CreateWebhookInput!) {
       createWebhook(input: $input) { id status hasHmacSecret hasBearerToken generatedHmacSecret }
     }`,
    { input },
  );
  return must(r, 'createWebhook').createWebhook;
}

export interface PublishedEvent {
  id: string;
  type: string;
  occurredAt: string;
  payload: Record<string, unknown>;
  deliveries: { id: string; status: string; webhook: { id: string } }[];
}

const PUBLISH = `mutation($input: PublishEventInput!) {
  publishEvent(input: $input) { id type occurredAt payload deliveries { id status webhook { id } } }
}`;

export function publishRaw(
  s: Api,
  input: Record<string, unknown>,
  token: string | null = 'PUBLISHER',
): Promise<GqlResult<{ publishEvent: PublishedEvent }>> {
  return s.gql(PUBLISH, { input }, token);
}

export async function publish(
  s: Api,
  resource: string,
  action: string,
  payload: Record<string, unknown>,
  extra: { idempotencyKey?: string; occurredAt?: string } = {},
): Promise<PublishedEvent> {
  return must(await publishRaw(s, { resource, action, payload, ...extra }), 'publishEvent').publishEvent;
}

export interface TracedEvent {
  id: string;
  traceId: string | null;
  deliveries: { id: string; webhook: { id: string } }[];
}

/** publishEvent (USERS CREATE) over HTTP with a traceparent header (null: none), as an instrumented publisher sends it. */
export async function publishTraced(
  s: Pick<TestServer, 'url' | 'keys'>,
  traceparent: string | null,
  payload: Record<string, unknown>,
): Promise<TracedEvent> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    authorization: `Bearer ${s.keys.PUBLISHER}`,
  };
  if (traceparent !== null) headers.traceparent = traceparent;
  const res = await fetch(s.url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      query: `mutation($p: JSONObject!) {
        publishEvent(input: {resource: USERS, action: CREATE, payload: $p}) { id traceId deliveries { id webhook { id } } }
      }`,
      variables: { p: payload },
    }),
  });
  return must((await res.json()) as GqlResult<{ publishEvent: TracedEvent }>, 'publishEvent').publishEvent;
}

/** The delivery of `event` to `webhookId` (from the publishEvent answer). */
export function deliveryFor(event: PublishedEvent, webhookId: string): string {
  const d = event.deliveries.find((x) => x.webhook.id === webhookId);
  assert.ok(d, `event ${event.id} has no delivery for webhook ${webhookId}: ${JSON.stringify(event.deliveries)}`);
  return d.id;
}

export const ATTEMPT_FIELDS =
  'id deliveryId webhookId eventId attemptNumber outcome responseStatus responseBody errorMessage durationMs startedAt';

export interface AttemptView {
  id: string;
  deliveryId: string;
  webhookId: string;
  eventId: string;
  attemptNumber: number;
  outcome: string;
  responseStatus: number | null;
  responseBody: string | null;
  errorMessage: string | null;
  durationMs: number;
  startedAt: string;
}

export interface DeliveryView {
  id: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  event: { id: string };
  webhook: { id: string };
  attempts: AttemptView[];
}

const DELIVERY_FIELDS = `id status attemptCount nextAttemptAt lastAttemptAt event { id } webhook { id } attempts { ${ATTEMPT_FIELDS} }`;

export async function getDelivery(s: TestServer, id: string): Promise<DeliveryView> {
  const r = await s.gql<{ delivery: DeliveryView | null }>(
    `query($id: ID!) { delivery(id: $id) { ${DELIVERY_FIELDS} } }`,
    { id },
    'VIEWER',
  );
  const d = must(r, 'delivery').delivery;
  assert.ok(d, `delivery ${id} not found`);
  d.attempts.sort((a, b) => a.attemptNumber - b.attemptNumber);
  return d;
}

/** The event's deliveries as the HTTP API reports them, attempts included. */
export async function deliveriesOfEvent(s: TestServer, eventId: string): Promise<DeliveryView[]> {
  const r = await s.gql<{ event: { deliveries: DeliveryView[] } | null }>(
    `query($id: ID!) { event(id: $id) { deliveries { ${DELIVERY_FIELDS} } } }`,
    { id: eventId },
    'VIEWER',
  );
  const e = must(r, 'event').event;
  assert.ok(e, `event ${eventId} not found`);
  return e.deliveries;
}

/**
 * Waits until the delivery has `n` recorded attempts and is settled for now
 * (no claim in flight: the last attempt's result is applied).
 */
export async function waitForAttempts(s: TestServer, id: string, n: number, ms = 10_000): Promise<DeliveryView> {
  await eventually(
    async () => {
      const { rows } = await s.db.pool.query<{ attempt_count: number; n: number; last: number | null }>(
        `SELECT coalesce(q.attempt_count, d.attempt_count) AS attempt_count,
                (SELECT count(*)::int FROM delivery_attempts WHERE delivery_id = $1) AS n,
                (SELECT max(attempt_number) FROM delivery_attempts WHERE delivery_id = $1) AS last
         FROM deliveries d LEFT JOIN delivery_queue q ON q.delivery_id = d.id WHERE d.id = $1`,
        [id],
      );
      // The queue's attempt_count is raised at claim time: equal to the last logged attempt means no claim is in flight.
      const row = rows[0];
      return row !== undefined && row.n >= n && row.last === row.attempt_count;
    },
    ms,
    `${n} attempt(s) on delivery ${id}`,
  );
  // Read through the API only now: its fields are separate reads, not one snapshot.
  const d = await getDelivery(s, id);
  assert.ok(d.attempts.length >= n, `delivery ${id} has ${d.attempts.length} attempts, expected ${n}`);
  return d;
}

export interface WebhookView {
  id: string;
  status: string;
  statusReason: string | null;
}

export async function getWebhook(s: TestServer, id: string): Promise<WebhookView | null> {
  const r = await s.gql<{ webhook: WebhookView | null }>(
    `query($id: ID!) { webhook(id: $id) { id status statusReason } }`,
    { id },
    'VIEWER',
  );
  return must(r, 'webhook').webhook;
}

export async function setPaused(s: TestServer, webhookId: string, paused: boolean): Promise<WebhookView> {
  const m = paused ? 'pauseWebhook' : 'resumeWebhook';
  const r = await s.gql<Record<string, WebhookView>>(
    `mutation($id: ID!) { ${m}(id: $id) { id status statusReason } }`,
    {
      id: webhookId,
    },
  );
  return must(r, m)[m]!;
}

/** Makes a waiting delivery due now, as if its retry time had come (backdating, not sleeping). */
export async function makeDue(s: TestServer, deliveryId: string): Promise<void> {
  const { rowCount } = await s.db.pool.query(
    `UPDATE delivery_queue SET next_attempt_at = now() - interval '1 second'
     WHERE delivery_id = $1 AND next_attempt_at IS NOT NULL`,
    [deliveryId],
  );
  assert.equal(rowCount, 1, `delivery ${deliveryId} was not waiting for a retry`);
  s.hookline.worker?.wake();
}

/** Waits until the server's worker has claimed and finished everything that is due. */
export async function quiesce(s: TestServer): Promise<void> {
  assert.ok(s.hookline.worker, 'this server runs no worker');
  await s.hookline.worker.quiesce();
}

let pathCounter = 0;
/** A receiver path no other test uses. */
export function uniquePath(prefix: string): string {
  pathCounter += 1;
  return `/${prefix}-${pathCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

export function receivedAt(r: Receiver, path: string): Received[] {
  return r.received.filter((x) => x.path === path);
}

export function ms(iso: string | null): number {
  assert.ok(iso, 'expected a timestamp');
  return new Date(iso).getTime();
}

/** A webhook's stored secrets, opened with the test key (the table itself holds only sealed text). */
export async function storedSecrets(
  s: TestServer,
  webhookId: string,
): Promise<{ bearer_token: string | null; hmac_secret: string | null }> {
  const { rows } = await s.db.pool.query('SELECT bearer_token, hmac_secret FROM webhooks WHERE id = $1', [webhookId]);
  return {
    bearer_token: openStored('bearer_token', webhookId, rows[0].bearer_token),
    hmac_secret: openStored('hmac_secret', webhookId, rows[0].hmac_secret),
  };
}
