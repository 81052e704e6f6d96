import { Socket } from 'node:net';
import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import type { AttemptNotice } from '../../src/feed/feed.js';
import { LiveFeed } from '../../src/feed/live-feed.js';
import { createLogger } from '../../src/logger.js';
import { PgListener } from '../../src/storage/listener.js';
import type { AttemptView, WebhookView } from './api.js';
import type { TestDatabase } from './db.js';
import type { TestServer } from './server.js';

// The live feed's subscriptions as tests send them, and ways to make feed
// traffic without deliveries.

export const FEED_ATTEMPT_FIELDS =
  'id deliveryId webhookId eventId attemptNumber outcome responseStatus durationMs startedAt errorMessage';
export const ATTEMPTS_SUBSCRIPTION = `subscription($w: ID, $e: ID) { deliveryAttempts(webhookId: $w, eventId: $e) { ${FEED_ATTEMPT_FIELDS} } }`;
export const STATUS_SUBSCRIPTION = `subscription($w: ID) { webhookStatusChanged(webhookId: $w) { id status statusReason } }`;

export type Attempt = Omit<AttemptView, 'responseBody'>;
export type StatusChange = WebhookView;

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
    accountId: DEFAULT_ACCOUNT_ID,
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
 * Cuts every LISTEN connection on the test's database (each server process has
 * one, whose last statement is a LISTEN), as a network fault would: notices
 * sent until each reconnects are lost. Returns how many were cut.
 */
export async function cutListenConnections(db: TestDatabase): Promise<number> {
  const { rowCount } = await db.pool.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN %'`,
  );
  return rowCount ?? 0;
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

/** What the feed carries of a logged attempt: everything but the response body, which stays in the delivery log. */
export function feedView({ responseBody: _body, ...rest }: AttemptView): Attempt {
  return rest;
}
