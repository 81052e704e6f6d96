import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { BoundedPubSub, SlowConsumerError } from '../../src/feed/bounded-pubsub.js';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import {
  ATTEMPTS_SUBSCRIPTION,
  armed,
  collect,
  createWebhook,
  feedClient,
  otherInstanceFeed,
  publish,
  serverSideOf,
  setPaused,
  syntheticNotice,
  wsUrl,
  type Attempt,
  type Collected,
  type FeedClient,
} from './feed-helpers.js';

// A dashboard that stops reading must not slow deliveries down: each
// subscriber has its own bounded queue, and publishing never waits for one.
//
// End to end, the stalled subscriber is a raw graphql-transport-ws client that
// pauses its socket; it is then fed (through a second LiveFeed on the same
// database, as another instance would) until the server really holds data it
// cannot write, so the stall is not silently absorbed by kernel buffers. The
// delivery rate with it is compared with a run that has the same 19 readers
// and no stalled subscriber; the rate with no subscribers at all is logged:
// the readers' own cost (a GraphQL execution per attempt per subscriber, on
// the worker's event loop) is large and is not what this test is about.

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

const N = 300;
const READERS = 19;
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
  async start(token: string, variables: Record<string, unknown> = {}): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    await eventually(() => this.messages.some((m) => m.type === 'connection_ack'), 10_000, 'connection_ack');
    this.ws.send(JSON.stringify({ id: 's1', type: 'subscribe', payload: { query: ATTEMPTS_SUBSCRIPTION, variables } }));
  }

  nexts(): number {
    return this.messages.filter((m) => m.type === 'next').length;
  }

  get socket(): Socket {
    return (this.ws as unknown as { _socket: Socket })._socket;
  }

  /** Stop reading: the kernel buffers fill, then the server can no longer write. */
  stall(): void {
    this.socket.pause();
  }

  release(): void {
    this.socket.resume();
  }
}

/** One server with a bulk webhook, and the tools to stall a subscriber on it. */
function stallRig(label: string) {
  const rig = {
    s: undefined as unknown as TestServer,
    r: undefined as unknown as Receiver,
    webhookId: '',
    other: undefined as unknown as ReturnType<typeof otherInstanceFeed>,
    clients: [] as FeedClient[],
    raws: [] as RawSubscriber[],
    seq: 0,
    synthetic: 0,

    async start() {
      rig.s = await startTestServer(label);
      rig.r = await startReceiver();
      rig.webhookId = await createWebhook(rig.s, 'bulk', `${rig.r.url}/bulk`, [
        { resource: 'USERS', action: 'CREATE' },
      ]);
      rig.other = otherInstanceFeed(rig.s);
    },
    async stop() {
      for (const raw of rig.raws) raw.ws.terminate();
      for (const c of rig.clients) await c.dispose().catch(() => undefined);
      await rig.other?.close();
      await rig.s?.stop();
      await rig.r?.close();
    },

    reader(vars: Record<string, unknown>): Collected<Attempt> {
      const c = feedClient(rig.s.url, rig.s.keys.VIEWER);
      rig.clients.push(c);
      return collect<Attempt>(c, ATTEMPTS_SUBSCRIPTION, vars, 'deliveryAttempts');
    },

    /** A raw subscriber to every attempt, proven live, then stalled. */
    async stalledSubscriber(): Promise<RawSubscriber> {
      const raw = new RawSubscriber(rig.s.url);
      rig.raws.push(raw);
      await raw.start(rig.s.keys.VIEWER);
      await armed(
        'the raw subscriber',
        async () => rig.other.feed.attempts([syntheticNotice(++rig.synthetic)]),
        () => raw.nexts() > 0,
      );
      raw.stall();
      return raw;
    },

    /**
     * Feeds the stalled subscriber (through another instance's feed, for a
     * webhook the readers filter out) until the server holds data it cannot
     * write to it: from then on the stall is real, not absorbed by kernel buffers.
     */
    async holdBack(raw: RawSubscriber): Promise<Socket> {
      const server = await eventually(() => serverSideOf(raw.socket), 5_000, 'the server side of the raw connection');
      let sent = 0;
      for (let round = 0; round < 200 && server.writableLength === 0; round++) {
        rig.other.feed.attempts(Array.from({ length: 400 }, () => syntheticNotice(++rig.synthetic, SYNTHETIC_WEBHOOK)));
        sent += 400;
        const until = Date.now() + 150;
        while (Date.now() < until && server.writableLength === 0) await sleep(20);
      }
      assert.ok(server.writableLength > 0, 'the stalled subscriber never backed the server up');
      console.log(
        `[backpressure] stalled subscriber holds the server back after ${sent} notices (${server.bytesWritten} bytes taken by the kernel)`,
      );
      return server;
    },

    /**
     * Publishes `count` events while the webhook is paused (they wait, parked),
     * then resumes it and times until every delivery SUCCEEDED. Returns deliveries/s.
     */
    async timedBatch(name: string, count: number): Promise<{ rate: number; eventIds: string[] }> {
      const { s, r } = rig;
      await setPaused(s, rig.webhookId, true);
      const eventIds: string[] = [];
      const p0 = performance.now();
      for (let i = 0; i < count; i += 20) {
        const ids = await Promise.all(
          Array.from({ length: Math.min(20, count - i) }, () =>
            publish(s, 'USERS', 'CREATE', { id: `bulk-${++rig.seq}` }),
          ),
        );
        eventIds.push(...ids);
      }
      const succeeded = async () =>
        (
          await s.db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM deliveries WHERE event_id = ANY($1::uuid[]) AND status = 'SUCCEEDED'`,
            [eventIds],
          )
        ).rows[0]!.n;
      const publishMs = performance.now() - p0;
      assert.equal(await succeeded(), 0, 'nothing is sent while the webhook is paused');
      const t0 = performance.now();
      await setPaused(s, rig.webhookId, false);
      await eventually(
        async () => (await succeeded()) === count,
        90_000,
        `${name}: all ${count} deliveries to succeed`,
      );
      const ms = performance.now() - t0;
      const rate = count / (ms / 1000);
      console.log(
        `[backpressure] ${name}: ${count} deliveries in ${ms.toFixed(0)} ms = ${rate.toFixed(0)} deliveries/s (published beforehand in ${publishMs.toFixed(0)} ms)`,
      );

      const { rows } = await s.db.pool.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM deliveries WHERE event_id = ANY($1::uuid[]) GROUP BY status`,
        [eventIds],
      );
      assert.deepEqual(rows, [{ status: 'SUCCEEDED', n: count }], `${name}: all deliveries SUCCEEDED`);
      const ids = new Set(eventIds);
      assert.equal(
        r.received.filter((x) => ids.has(String(x.headers['webhook-id']))).length,
        count,
        `${name}: each sent exactly once`,
      );
      return { rate, eventIds };
    },
  };
  return rig;
}

describe('a stalled live-feed subscriber', () => {
  const rig = stallRig('feed_backpressure');
  before(() => rig.start());
  after(() => rig.stop());

  it(`does not slow the delivery of ${N} events (${READERS} reading subscribers alongside)`, async () => {
    await rig.timedBatch('warm-up (not compared)', 100);
    const baseline = await rig.timedBatch('baseline, no subscribers', N);

    // 19 ordinary subscribers that read every attempt of the bulk webhook.
    const readers = Array.from({ length: READERS }, () => rig.reader({ w: rig.webhookId }));
    await armed(
      'the readers',
      () => publish(rig.s, 'USERS', 'CREATE', { id: `arm-${++rig.seq}` }),
      () => readers.every((x) => x.items.length > 0),
    );

    // Two rounds, interleaved, best of each: other processes share this machine and its database.
    const control: number[] = [];
    const stalled: number[] = [];
    const runs: string[][] = [];
    for (let round = 1; round <= 2; round++) {
      const c = await rig.timedBatch(`round ${round}: control, ${READERS} reading subscribers`, N);
      control.push(c.rate);

      // The 20th subscribes to every attempt and stops reading.
      const raw = await rig.stalledSubscriber();
      const server = await rig.holdBack(raw);
      const readBefore = raw.nexts();
      const st = await rig.timedBatch(`round ${round}: ${READERS} reading subscribers + 1 stalled`, N);
      stalled.push(st.rate);
      assert.ok(server.writableLength > 0 || server.destroyed, 'the subscriber stayed stalled for the whole run');
      assert.equal(raw.nexts(), readBefore, 'the stalled subscriber read nothing meanwhile');
      raw.ws.terminate();
      runs.push(c.eventIds, st.eventIds);
    }

    const best = (xs: number[]) => Math.max(...xs);
    const vsControl = best(stalled) / best(control);
    console.log(
      `[backpressure] best rates (deliveries/s): baseline ${baseline.rate.toFixed(0)}, control ${best(control).toFixed(0)}, stalled ${best(stalled).toFixed(0)}; ` +
        `control/baseline ${(best(control) / baseline.rate).toFixed(2)}, stalled/baseline ${(best(stalled) / baseline.rate).toFixed(2)}, stalled/control ${vsControl.toFixed(2)}`,
    );

    // The readers kept up: each saw every attempt of every run, and nothing else.
    for (const eventIds of runs) {
      const ids = new Set(eventIds);
      await eventually(
        () => readers.every((x) => x.items.filter((a) => ids.has(a.eventId)).length === N),
        30_000,
        'every reader to see every attempt',
      );
    }
    for (const x of readers) {
      assert.deepEqual([...x.errors, ...x.resultErrors], []);
      assert.deepEqual(
        x.items.filter((a) => a.webhookId !== rig.webhookId),
        [],
        "the readers' filter held under load",
      );
    }
    // The only timing assertion, generous on purpose. It compares with the runs
    // that have the same readers and no stalled subscriber: the readers' own
    // cost is not the stalled subscriber's (the comparison with no subscribers
    // at all is logged above).
    assert.ok(
      vsControl >= 0.5,
      `stalled-run rate ${best(stalled).toFixed(0)}/s is below half the control rate ${best(control).toFixed(0)}/s`,
    );
  });
});

describe('a live-feed subscriber that falls too far behind', () => {
  const rig = stallRig('feed_slow_consumer');
  before(() => rig.start());
  after(() => rig.stop());

  it('is closed with 4408', async () => {
    const raw = await rig.stalledSubscriber();
    await rig.holdBack(raw);
    // Past the per-subscriber buffer (1000 notices) while stalled. A reader of
    // the synthetic webhook tells when the server has fanned them all out.
    const watcher = rig.reader({ w: SYNTHETIC_WEBHOOK });
    await armed(
      'the watcher',
      async () => rig.other.feed.attempts([syntheticNotice(++rig.synthetic, SYNTHETIC_WEBHOOK)]),
      () => watcher.items.length > 0,
    );
    const notices = Array.from({ length: 1500 }, () => syntheticNotice(++rig.synthetic, SYNTHETIC_WEBHOOK));
    rig.other.feed.attempts(notices);
    const lastId = notices.at(-1)!.id;
    await eventually(() => watcher.items.some((a) => a.id === lastId), 30_000, 'the overflow to be fanned out');

    raw.release();
    await eventually(() => raw.closed, 10_000, 'the slow subscriber to be closed').catch(() => null);
    const errors = raw.messages.filter((m) => m.type === 'error');
    console.log(
      `[backpressure] slow subscriber after release: close ${JSON.stringify(raw.closed)}, ${raw.nexts()} next, error payloads ${JSON.stringify(errors.slice(0, 1))}`,
    );
    const problems: string[] = [];
    if (raw.closed?.code !== 4408)
      problems.push(`expected close 4408 (websocket.ts CLOSE_SLOW_CONSUMER), got ${JSON.stringify(raw.closed)}`);
    // Whatever else it is told, a valid subscription that fell behind is not the client's bad input.
    const codes = errors.flatMap((m) =>
      (m.payload as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code),
    );
    if (codes.includes('BAD_USER_INPUT'))
      problems.push(`the slow-consumer error is labelled BAD_USER_INPUT: ${JSON.stringify(errors[0])}`);
    assert.deepEqual(problems, []);
  });
});
