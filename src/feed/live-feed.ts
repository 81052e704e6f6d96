import type pg from 'pg';
import type { Logger } from '../logger.js';
import type { PgListener } from '../storage/listener.js';
import { FEED_CHANNEL } from '../storage/sql/channels.js';
import { BoundedPubSub } from './bounded-pubsub.js';
import type { AttemptNotice, FeedPublisher, WebhookStatusNotice } from './feed.js';

// Cross-instance live feed: whatever happens in any process is NOTIFYed on one
// channel; every process LISTENs (one connection, shared with the worker) and
// republishes into its local BoundedPubSub, which the GraphQL subscriptions read.
// Publishing is fire-and-forget: a feed problem never fails a delivery.

export const TOPIC_ATTEMPT = 'ATTEMPT';
export const TOPIC_WEBHOOK_STATUS = 'WEBHOOK_STATUS';

// NOTIFY payloads must stay under 8000 bytes; notices are ~400 bytes, error messages cut.
const MAX_PAYLOAD = 7000;
const MAX_ERROR_CHARS = 300;

type Message = { t: 'a'; n: AttemptNotice[] } | { t: 'w'; n: WebhookStatusNotice };

export class LiveFeed implements FeedPublisher {
  readonly pubSub = new BoundedPubSub();
  private readonly unlisten: () => void;

  constructor(
    private readonly pool: pg.Pool,
    listener: PgListener,
    private readonly log: Logger,
  ) {
    this.unlisten = listener.on(FEED_CHANNEL, (payload) => this.receive(payload));
  }

  attempts(notices: AttemptNotice[]): void {
    let chunk: AttemptNotice[] = [];
    let size = 0;
    for (const n of notices) {
      const trimmed =
        n.errorMessage && n.errorMessage.length > MAX_ERROR_CHARS
          ? { ...n, errorMessage: n.errorMessage.slice(0, MAX_ERROR_CHARS) + '…' }
          : n;
      const len = JSON.stringify(trimmed).length + 1;
      if (size + len > MAX_PAYLOAD && chunk.length) {
        this.send({ t: 'a', n: chunk });
        chunk = [];
        size = 0;
      }
      chunk.push(trimmed);
      size += len;
    }
    if (chunk.length) this.send({ t: 'a', n: chunk });
  }

  webhookStatus(notice: WebhookStatusNotice): void {
    this.send({ t: 'w', n: notice });
  }

  private send(message: Message): void {
    this.pool
      .query('SELECT pg_notify($1, $2)', [FEED_CHANNEL, JSON.stringify(message)])
      .catch((err: Error) => this.log.warn({ err: err.message }, 'live feed notification lost'));
  }

  private receive(payload: string): void {
    let message: Message;
    try {
      message = JSON.parse(payload) as Message;
    } catch {
      this.log.warn('unreadable live feed notification ignored');
      return;
    }
    if (message.t === 'a') for (const n of message.n) this.pubSub.publish(TOPIC_ATTEMPT, n);
    else if (message.t === 'w') this.pubSub.publish(TOPIC_WEBHOOK_STATUS, message.n);
  }

  async close(): Promise<void> {
    this.unlisten();
  }
}
