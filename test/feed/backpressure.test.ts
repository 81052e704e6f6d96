import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { BoundedPubSub, SlowConsumerError } from '../../src/feed/bounded-pubsub.js';
import {
  ATTEMPTS_SUBSCRIPTION,
  armed,
  collect,
  createWebhook,
  eventually,
  feedClient,
  otherInstanceFeed,
  publish,
  serverSideOf,
  startReceiver,
  startServer,
  syntheticNotice,
  wsUrl,
  type Attempt,
  type FeedClient,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// A dashboard that stops reading must not hold anyone else back: each
// subscriber has its own bounded queue, publishing never waits for one, and a
// subscriber that falls too far behind is cut off (4408). End to end, the
// stalled subscriber is a raw graphql-transport-ws client that pauses its
// socket; it is fed (through a second LiveFeed on the same database, as another
// instance would) until the server really holds data it cannot write, so the
// stall is not silently absorbed by kernel buffers. How much a stalled
// subscriber costs the delivery rate is measured in bench/ (npm run bench), not here.

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('BoundedPubSub', () => {
  it('a subscriber that never reads is ended with SlowConsumerError past `limit`, while a reading one gets every message', async () => {
    const limit = 10;
    const ps = new BoundedPubSub(limit);
    const slow = ps.subscribe('T')[Symbol.asyncIterator]();
    const reader = ps.subscribe('T')[Symbol.asyncIterator]();
    assert.equal(ps.subscriberCount('T'), 2);

    const got: unknown[] = [];
    let readerError: unknown = null;
    const reading = (async () => {
      try {
        for (;;) {
          const r = await reader.next();
          if (r.done) return;
          got.push(r.value);
        }
      } catch (e) {
        readerError = e;
      }
    })();

    const total = limit * 5;
    for (let i = 0; i < total; i++) {
      assert.doesNotThrow(() => ps.publish('T', i));
      // The reader keeps up: it drains between small bursts.
      if (i % 3 === 2) await tick();
    }
    await eventually(() => got.length === total, 5_000, 'the reader to get everything');
    assert.deepEqual(
      got,
      Array.from({ length: total }, (_, i) => i),
      'every message, in order',
    );
    assert.equal(readerError, null);

    // The slow one was dropped (no longer counted, so no longer buffered for) …
    assert.equal(ps.subscriberCount('T'), 1);
    // … and learns it when it finally reads: whatever it still gets, at most `limit`, then the error.
    const slowGot: unknown[] = [];
    let slowError: unknown = null;
    try {
      for (;;) {
        const r = await slow.next();
        if (r.done) break;
        slowGot.push(r.value);
        assert.ok(slowGot.length <= limit, 'never more than `limit` buffered');
      }
    } catch (e) {
      slowError = e;
    }
    assert.ok(slowError instanceof SlowConsumerError, `expected SlowConsumerError, got ${String(slowError)}`);
    assert.equal((slowError as SlowConsumerError).code, 'SLOW_CONSUMER');
    assert.deepEqual(
      slowGot,
      slowGot.length ? Array.from({ length: slowGot.length }, (_, i) => i) : [],
      'a prefix, if anything',
    );
    // It stays ended.
    await assert.rejects(slow.next(), SlowConsumerError);

    await reader.return!();
    await reading;
    assert.equal(ps.subscriberCount('T'), 0, 'return() unsubscribes');
  });

  it('exactly `limit` unread messages are kept; the one after that ends the subscriber', async () => {
    const limit = 5;
    const ps = new BoundedPubSub(limit);
    const it1 = ps.subscribe('T')[Symbol.asyncIterator]();
    for (let i = 0; i < limit; i++) ps.publish('T', i);
    assert.equal(ps.subscriberCount('T'), 1, 'still subscribed at `limit`');
    for (let i = 0; i < limit; i++) assert.deepEqual(await it1.next(), { value: i, done: false });

    const it2 = ps.subscribe('U')[Symbol.asyncIterator]();
    for (let i = 0; i <= limit; i++) ps.publish('U', i);
    assert.equal(ps.subscriberCount('U'), 0, 'dropped at limit + 1');
    await assert.rejects(it2.next(), SlowConsumerError);
    await it1.return!();
  });

  it('publish never throws: no subscribers, other topics, ended and failing subscribers', async () => {
    const ps = new BoundedPubSub(1);
    assert.doesNotThrow(() => ps.publish('nobody', { x: 1 }));
    const a = ps.subscribe('T')[Symbol.asyncIterator]();
    const b = ps.subscribe('T')[Symbol.asyncIterator]();
    const c = ps.subscribe('other')[Symbol.asyncIterator]();
    await a.return!();
    for (let i = 0; i < 100; i++) assert.doesNotThrow(() => ps.publish('T', i));
    assert.equal(ps.subscriberCount('T'), 0, 'b was dropped, a had left');
    assert.equal(ps.subscriberCount('other'), 1, 'other topics untouched');
    assert.deepEqual(await a.next(), { value: undefined, done: true });
    await assert.rejects(b.next(), SlowConsumerError);
    // A pending read is released by return().
    const pending = c.next();
    await c.return!();
    assert.deepEqual(await pending, { value: undefined, done: true });
    assert.doesNotThrow(() => ps.publish('other', 1));
  });
});

// ---- end to end ----

const N = 200;
const READERS = 5;
const SYNTHETIC_WEBHOOK = '00000000-0000-4000-8000-00000000feed';

/** A client speaking graphql-transport-ws by hand, so it can stop reading its socket. */
class RawSubscriber {
  readonly ws: WebSocket;
  readonly messages: { type: string; id?: string; payload?: unknown }[] = [];
  closed: { code: number; reason: string } | null = null;

  constructor(url: string) {
    this.ws = new WebSocket(wsUrl(url), 'graphql-transport-ws');
    this.ws.on('message', (m) => this.messages.push(JSON.parse(String(m))));
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: String(reason) }));
    this.ws.on('error', () => undefined);
  }

  /** connection_init with the key, wait for the ack (subscribing earlier is a protocol error), then subscribe. */
  async start(token: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    await eventually(() => this.messages.some((m) => m.type === 'connection_ack'), 10_000, 'connection_ack');
    this.ws.send(
      JSON.stringify({ id: 's1', type: 'subscribe', payload: { query: ATTEMPTS_SUBSCRIPTION, variables: {} } }),
    );
  }

  nexts(): number {
    return this.messages.filter((m) => m.type === 'next').length;
  }

  get socket(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket;
  }
}

describe('a stalled live-feed subscriber', () => {
  let s: TestServer;
  let r: Receiver;
  let other: ReturnType<typeof otherInstanceFeed>;
  const clients: FeedClient[] = [];
  let raw: RawSubscriber;
  let synthetic = 0;

  before(async () => {
    // A stalled client misses pings too; the keep-alive must not be what ends it here.
    s = await startServer('feed_backpressure', { env: { HOOKLINE_WS_KEEPALIVE: '5m' } });
    r = await startReceiver();
    other = otherInstanceFeed(s);
  });
  after(async () => {
    raw?.ws.terminate();
    for (const c of clients) await c.dispose().catch(() => undefined);
    await other?.close();
    await s?.stop();
    await r?.close();
  });

  it(`is cut off with 4408 while ${READERS} reading subscribers get every attempt of ${N} deliveries`, async () => {
    const webhookId = (await createWebhook(s, { name: 'bulk', url: `${r.url}/bulk`, subs: [['USERS', 'CREATE']] })).id;
    const readers = Array.from({ length: READERS }, () => {
      const c = feedClient(s.url, s.keys.VIEWER);
      clients.push(c);
      return collect<Attempt>(c, ATTEMPTS_SUBSCRIPTION, { w: webhookId }, 'deliveryAttempts');
    });
    let seq = 0;
    await armed(
      'the readers',
      () => publish(s, 'USERS', 'CREATE', { id: `arm-${++seq}` }),
      () => readers.every((x) => x.items.length > 0),
    );

    // The stalled one subscribes to every attempt, is proven live, then stops reading …
    raw = new RawSubscriber(s.url);
    await raw.start(s.keys.VIEWER);
    await armed(
      'the raw subscriber',
      async () => other.feed.attempts([syntheticNotice(++synthetic)]),
      () => raw.nexts() > 0,
    );
    raw.socket.pause();
    // … and is fed (a webhook the readers filter out) until the server holds data it cannot write.
    const server = await eventually(() => serverSideOf(raw.socket), 5_000, 'the server side of the raw connection');
    await eventually(
      () => {
        if (server.writableLength > 0) return true;
        other.feed.attempts(Array.from({ length: 400 }, () => syntheticNotice(++synthetic, SYNTHETIC_WEBHOOK)));
        return false;
      },
      30_000,
      'the stalled subscriber to back the server up',
    );
    const readBefore = raw.nexts();

    // Real deliveries meanwhile, and more than its buffer (1000 notices) of feed traffic.
    const eventIds = new Set<string>();
    for (let i = 0; i < N; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, N - i) }, () => publish(s, 'USERS', 'CREATE', { id: `bulk-${++seq}` })),
      );
      for (const e of batch) eventIds.add(e.id);
    }
    other.feed.attempts(Array.from({ length: 1500 }, () => syntheticNotice(++synthetic, SYNTHETIC_WEBHOOK)));

    await eventually(
      () => readers.every((x) => x.items.filter((a) => eventIds.has(a.eventId)).length === N),
      30_000,
      'every reader to see every attempt',
    );
    for (const x of readers) {
      assert.deepEqual([...x.errors, ...x.resultErrors], []);
      assert.deepEqual(
        x.items.filter((a) => a.webhookId !== webhookId),
        [],
        "the readers' filter held",
      );
    }
    const { rows } = await s.db.pool.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM deliveries WHERE event_id = ANY($1::uuid[]) GROUP BY status`,
      [[...eventIds]],
    );
    assert.deepEqual(rows, [{ status: 'SUCCEEDED', n: N }], 'every delivery SUCCEEDED while the subscriber stalled');
    assert.equal(
      r.received.filter((x) => eventIds.has(String(x.headers['webhook-id']))).length,
      N,
      'each sent exactly once',
    );
    assert.equal(raw.nexts(), readBefore, 'the stalled subscriber read nothing meanwhile');

    raw.socket.resume();
    await eventually(() => raw.closed, 10_000, 'the slow subscriber to be closed');
    assert.equal(raw.closed?.code, 4408, `closed with ${JSON.stringify(raw.closed)}`);
    assert.match(raw.closed?.reason ?? '', /too slow/i);
    // Whatever else it is told, a valid subscription that fell behind is not the client's bad input.
    const codes = raw.messages
      .filter((m) => m.type === 'error')
      .flatMap((m) => (m.payload as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code));
    assert.ok(!codes.includes('BAD_USER_INPUT'), `labelled BAD_USER_INPUT: ${JSON.stringify(codes)}`);
  });
});
