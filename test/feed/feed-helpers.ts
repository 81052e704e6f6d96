import { Socket } from 'node:net';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { AttemptNotice } from '../../src/feed/feed.js';
import { LiveFeed } from '../../src/feed/live-feed.js';
import { createLogger } from '../../src/logger.js';
import { PgListener } from '../../src/storage/listener.js';
import type { TestServer } from '../helpers/server.js';

// Shared helpers for the live-feed tests: an official graphql-ws client per
// subscriber, a collector for what each subscription receives, and an
// "armed" wait, because the protocol has no acknowledgement for a subscribe
// message: the only proof that a subscription is live is that it received
// something published after it was opened.

export const ATTEMPT_FIELDS =
  'id deliveryId webhookId eventId attemptNumber outcome responseStatus durationMs startedAt errorMessage';

export const ATTEMPTS_SUBSCRIPTION = `subscription($w: ID, $e: ID) { deliveryAttempts(webhookId: $w, eventId: $e) { ${ATTEMPT_FIELDS} } }`;
export const STATUS_SUBSCRIPTION = `subscription($w: ID) { webhookStatusChanged(webhookId: $w) { id status statusReason } }`;

export interface Attempt {
  id: string;
  deliveryId: string;
  webhookId: string;
  eventId: string;
  attemptNumber: number;
  outcome: string;
  responseStatus: number | null;
  durationMs: number;
  startedAt: string;
  errorMessage: string | null;
}

export interface StatusChange {
  id: string;
  status: string;
  statusReason: string | null;
}

export function wsUrl(httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws');
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface FeedClient {
  client: Client;
  /** Set once the server acknowledged connection_init. */
  connected: boolean;
  /** Every close the client saw (code and reason). */
  closes: CloseInfo[];
  dispose(): Promise<void>;
}

/**
 * An official graphql-ws client. `token` null sends no connectionParams at all;
 * otherwise connectionParams.authorization = 'Bearer <token>' (or `rawAuthorization` as is).
 * Not lazy and never retrying, so refusals are observable through `closes`.
 */
export function feedClient(url: string, token: string | null, opts: { rawAuthorization?: string } = {}): FeedClient {
  const fc: FeedClient = {
    client: undefined as unknown as Client,
    connected: false,
    closes: [],
    dispose: async () => {
      await fc.client.dispose();
    },
  };
  const authorization = opts.rawAuthorization ?? (token === null ? undefined : `Bearer ${token}`);
  fc.client = createClient({
    url: wsUrl(url),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => undefined,
    ...(authorization === undefined ? {} : { connectionParams: { authorization } }),
    on: {
      connected: () => {
        fc.connected = true;
      },
      closed: (e) => {
        const ev = e as { code?: number; reason?: string };
        fc.closes.push({ code: ev.code ?? -1, reason: String(ev.reason ?? '') });
      },
    },
  });
  return fc;
}

export interface Collected<T> {
  items: T[];
  /** Results that arrived with GraphQL errors in a `next` payload. */
  resultErrors: unknown[];
  /** What the sink's error callback received (an array of GraphQL errors, or a CloseEvent/Error). */
  errors: unknown[];
  completed: boolean;
  stop(): void;
}

/** Subscribes and collects `data[field]` of every result. */
export function collect<T>(
  fc: FeedClient,
  query: string,
  variables: Record<string, unknown>,
  field: string,
): Collected<T> {
  const c: Collected<T> = { items: [], resultErrors: [], errors: [], completed: false, stop: () => undefined };
  c.stop = fc.client.subscribe<Record<string, T>>(
    { query, variables },
    {
      next: (r) => {
        if (r.errors?.length) c.resultErrors.push(...r.errors);
        const v = r.data?.[field];
        if (v) c.items.push(v);
      },
      error: (e) => {
        c.errors.push(e);
      },
      complete: () => {
        c.completed = true;
      },
    },
  );
  return c;
}

/**
 * Repeats `trigger` until `ready()` holds: proves that subscriptions opened
 * before are registered on the server. Each try waits up to `perTryMs`.
 */
export async function armed(
  what: string,
  trigger: () => Promise<unknown>,
  ready: () => boolean,
  perTryMs = 3000,
  totalMs = 30_000,
): Promise<void> {
  const until = Date.now() + totalMs;
  while (Date.now() < until) {
    await trigger();
    const tryUntil = Math.min(until, Date.now() + perTryMs);
    while (Date.now() < tryUntil) {
      if (ready()) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`subscriptions never became live: ${what}`);
}

// ---- API helpers over HTTP ----

export async function createWebhook(
  s: TestServer,
  name: string,
  destinationUrl: string,
  subscriptions: { resource: string; action: string }[],
): Promise<string> {
  const r = await s.gql<{ createWebhook: { id: string } }>(
    `mutation($n: String!, $u: String!, $s: [SubscriptionInput!]) { createWebhook(input: {name: $n, destinationUrl: $u, subscriptions: $s}) { id } }`,
    { n: name, u: destinationUrl, s: subscriptions },
  );
  if (!r.data?.createWebhook.id) throw new Error(`createWebhook failed: ${JSON.stringify(r)}`);
  return r.data.createWebhook.id;
}

export async function publish(
  s: TestServer,
  resource: string,
  action: string,
  payload: Record<string, unknown>,
): Promise<string> {
  const r = await s.gql<{ publishEvent: { id: string } }>(
    `mutation($r: ResourceType!, $a: EventAction!, $p: JSONObject!) { publishEvent(input: {resource: $r, action: $a, payload: $p}) { id } }`,
    { r: resource, a: action, p: payload },
    'PUBLISHER',
  );
  if (!r.data?.publishEvent.id) throw new Error(`publishEvent failed: ${JSON.stringify(r)}`);
  return r.data.publishEvent.id;
}

export async function setPaused(s: TestServer, webhookId: string, paused: boolean): Promise<StatusChange> {
  const m = paused ? 'pauseWebhook' : 'resumeWebhook';
  const r = await s.gql<Record<string, StatusChange>>(
    `mutation($id: ID!) { ${m}(id: $id) { id status statusReason } }`,
    { id: webhookId },
  );
  if (!r.data?.[m]) throw new Error(`${m} failed: ${JSON.stringify(r)}`);
  return r.data[m]!;
}

export interface ApiDelivery {
  id: string;
  status: string;
  webhook: { id: string };
  attempts: Attempt[];
}

/** The event's deliveries as the HTTP API reports them, attempts included. */
export async function deliveriesOfEvent(s: TestServer, eventId: string): Promise<ApiDelivery[]> {
  const r = await s.gql<{ event: { deliveries: ApiDelivery[] } | null }>(
    `query($id: ID!) { event(id: $id) { deliveries { id status webhook { id } attempts { ${ATTEMPT_FIELDS} } } } }`,
    { id: eventId },
    'VIEWER',
  );
  if (!r.data?.event) throw new Error(`event query failed: ${JSON.stringify(r)}`);
  return r.data.event.deliveries;
}

// ---- another instance's feed, and the server side of a connection ----

/**
 * A LiveFeed of "another instance" on the test server's database: what it
 * announces reaches the server through LISTEN/NOTIFY exactly as a second
 * process's would. Used to produce feed traffic without deliveries.
 */
export function otherInstanceFeed(s: TestServer): { feed: LiveFeed; close(): Promise<void> } {
  const log = createLogger('silent');
  const listener = new PgListener(s.db.url, log); // never started: this feed only sends
  const feed = new LiveFeed(s.db.pool, listener, log);
  return { feed, close: () => feed.close() };
}

/** A synthetic attempt notice for a webhook no subscriber in these tests filters on. */
export function syntheticNotice(i: number, webhookId = '00000000-0000-4000-8000-00000000feed'): AttemptNotice {
  const hex = i.toString(16).padStart(12, '0');
  return {
    id: `00000000-0000-4000-8000-${hex}`,
    deliveryId: `00000000-0000-4000-9000-${hex}`,
    webhookId,
    eventId: `00000000-0000-4000-a000-${hex}`,
    attemptNumber: 1,
    outcome: 'HTTP_ERROR',
    responseStatus: 500,
    errorMessage: 'x'.repeat(250),
    durationMs: 1,
    startedAt: new Date().toISOString(),
    deliveryStatus: 'PENDING',
    nextAttemptAt: null,
  };
}

/**
 * The server's end of a client connection (server and tests share this
 * process). Test-only introspection, used to prove that a stalled client
 * really holds the server back: data the server could not hand to the kernel.
 */
export function serverSideOf(client: Socket): Socket | undefined {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.find(
    (h): h is Socket =>
      h instanceof Socket && h !== client && h.remotePort === client.localPort && h.localPort === client.remotePort,
  );
}
