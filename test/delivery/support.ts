import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { GqlResult, TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/server.js';
import type { Received, Receiver } from '../helpers/receiver.js';

// Shared helpers for the delivery-engine integration tests. Everything goes
// through the public GraphQL API or plain SQL against the server's database.

/** package.json of the project, read directly (not through src/version.ts, which is under test). */
export const PKG = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

let pathCounter = 0;
/** A receiver path no other test uses. */
export function uniquePath(prefix: string): string {
  pathCounter += 1;
  return `/${prefix}-${pathCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The data of a GraphQL result, failing the test with the whole result when it has errors. */
export function must<T>(r: GqlResult<T>, what = 'request'): T {
  assert.ok(!r.errors?.length && r.data, `${what} failed: ${JSON.stringify(r)}`);
  return r.data as T;
}

export type Pair = [resource: string, action: string];

export interface CreateOpts {
  url: string;
  subs: Pair[];
  name?: string;
  bearerToken?: string;
  hmacSecret?: string;
  generateHmacSecret?: boolean;
}

export interface CreatedWebhook {
  id: string;
  status: string;
  hasHmacSecret: boolean;
  hasBearerToken: boolean;
  generatedHmacSecret: string | null;
}

export async function createWebhook(s: TestServer, o: CreateOpts): Promise<CreatedWebhook> {
  const input: Record<string, unknown> = {
    name: o.name ?? 'delivery test',
    destinationUrl: o.url,
    subscriptions: o.subs.map(([resource, action]) => ({ resource, action })),
  };
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
  s: TestServer,
  input: Record<string, unknown>,
  token: string | null = 'PUBLISHER',
): Promise<GqlResult<{ publishEvent: PublishedEvent }>> {
  return s.gql(PUBLISH, { input }, token);
}

export async function publish(
  s: TestServer,
  resource: string,
  action: string,
  payload: Record<string, unknown>,
  extra: { idempotencyKey?: string; occurredAt?: string } = {},
): Promise<PublishedEvent> {
  return must(await publishRaw(s, { resource, action, payload, ...extra }), 'publishEvent').publishEvent;
}

/** The delivery of `event` to `webhookId` (from the publishEvent answer). */
export function deliveryFor(event: PublishedEvent, webhookId: string): string {
  const d = event.deliveries.find((x) => x.webhook.id === webhookId);
  assert.ok(d, `event ${event.id} has no delivery for webhook ${webhookId}: ${JSON.stringify(event.deliveries)}`);
  return d.id;
}

export interface AttemptView {
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
  attempts: AttemptView[];
}

export async function getDelivery(s: TestServer, id: string): Promise<DeliveryView> {
  const r = await s.gql<{ delivery: DeliveryView | null }>(
    `query($id: ID!) { delivery(id: $id) {
       id status attemptCount nextAttemptAt lastAttemptAt event { id }
       attempts { attemptNumber outcome responseStatus responseBody errorMessage durationMs startedAt }
     } }`,
    { id },
    'VIEWER',
  );
  const d = must(r, 'delivery').delivery;
  assert.ok(d, `delivery ${id} not found`);
  d.attempts.sort((a, b) => a.attemptNumber - b.attemptNumber);
  return d;
}

/**
 * Waits until the delivery has `n` recorded attempts and is settled for now
 * (not PENDING with its lease running, i.e. the attempt's result is applied).
 */
export async function waitForAttempts(s: TestServer, id: string, n: number, ms = 10_000): Promise<DeliveryView> {
  await eventually(
    async () => {
      const { rows } = await s.db.pool.query<{ attempt_count: number; n: number; last: number | null }>(
        `SELECT attempt_count,
                (SELECT count(*)::int FROM delivery_attempts WHERE delivery_id = $1) AS n,
                (SELECT max(attempt_number) FROM delivery_attempts WHERE delivery_id = $1) AS last
         FROM deliveries WHERE id = $1`,
        [id],
      );
      // attempt_count is raised at claim time: equal to the last logged attempt means no claim is in flight.
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

/** Makes a waiting delivery due now, as if its retry time had come. */
export async function makeDue(s: TestServer, deliveryId: string): Promise<void> {
  const { rowCount } = await s.db.pool.query(
    `UPDATE deliveries SET next_attempt_at = now() - interval '1 second' WHERE id = $1 AND status = 'PENDING' AND next_attempt_at IS NOT NULL`,
    [deliveryId],
  );
  assert.equal(rowCount, 1, `delivery ${deliveryId} was not waiting for a retry`);
  s.hookline.worker?.wake();
}

export function receivedAt(r: Receiver, path: string): Received[] {
  return r.received.filter((x) => x.path === path);
}

export function ms(iso: string | null): number {
  assert.ok(iso, 'expected a timestamp');
  return new Date(iso).getTime();
}

/**
 * Proof that the worker has made claim passes since now: publish an event to a
 * dedicated marker webhook and wait until it arrives. Deliveries that were due
 * before the marker are claimed no later than it (claims go in next_attempt_at order).
 */
export class Marker {
  private constructor(
    private readonly s: TestServer,
    private readonly r: Receiver,
    private readonly path: string,
    private readonly pair: Pair,
  ) {}

  static async create(s: TestServer, r: Receiver, pair: Pair): Promise<Marker> {
    const path = uniquePath('marker');
    await createWebhook(s, { url: `${r.url}${path}`, subs: [pair], name: 'marker' });
    return new Marker(s, r, path, pair);
  }

  async pass(): Promise<void> {
    const before = receivedAt(this.r, this.path).length;
    const ev = await publish(this.s, this.pair[0], this.pair[1], { id: `marker-${Date.now()}` });
    await eventually(
      () => receivedAt(this.r, this.path).some((x) => x.headers['webhook-id'] === ev.id),
      10_000,
      'marker event',
    );
    assert.ok(receivedAt(this.r, this.path).length > before);
    // One more full poll interval (200 ms in tests) after the marker, for anything claimed in the same pass.
    await new Promise((res) => setTimeout(res, 300));
  }
}
