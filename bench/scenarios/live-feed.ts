import { createKey, createWebhooks } from '../lib/db.js';
import {
  call,
  database,
  openLoopServer,
  publish,
  quick,
  record,
  released,
  scoped,
  server,
  type Bench,
} from '../lib/harness.js';
import { sleep, until } from '../lib/stats.js';

// The live feed: 100 graphql-ws subscribers (in the feed process) to every
// attempt, with paced publishes and at 1,000 attempts a second, and what a
// subscriber that stops reading costs the delivery rate.

/** 100 subscribers (in the feed process) to every attempt while events are published one after another. */
export async function liveFeed(bench: Bench): Promise<void> {
  const { receiver, gen, feed } = bench;
  await scoped(async (defer) => {
    const db = await database(defer, 'feed');
    const publisherKey = await createKey(db, 'PUBLISHER');
    const viewerKey = await createKey(db, 'VIEWER');
    await createWebhooks(db, [`${receiver.url}/ok/feed`]);
    const srv = await server(defer, { env: { DATABASE_URL: db.url } });
    released(defer, bench);
    const subscribers = 100;
    await feed.subscribe({
      url: srv.url,
      token: viewerKey,
      query: 'subscription { deliveryAttempts { startedAt durationMs } }',
      clients: subscribers,
    });
    await sleep(300);
    // One publish at a time, 10 ms after the previous answer: the pacing this figure has always had.
    const pub = await gen.closed({
      request: publish(srv.url, publisherKey, 'lf'),
      concurrency: 1,
      requests: quick ? 200 : 1000,
      pauseMs: 10,
    });
    await until(async () => (await feed.feed()).received >= pub.count * subscribers, 60_000, 'feed messages', 50);
    const l = await feed.feed();
    record('live feed, 100 subscribers, paced publishes: attempt-to-client p50', 'ms', l.p50);
    record('live feed, 100 subscribers, paced publishes: attempt-to-client p99', 'ms', l.p99);
  });
}

/** 100 subscribers to every attempt while the server delivers 1,000 attempts a second (an open loop of publishes). */
export async function liveFeedUnderLoad(bench: Bench): Promise<void> {
  const { receiver, gen, feed } = bench;
  await scoped(async (defer) => {
    const { srv, key, db } = await openLoopServer(bench, defer, 'feed_load', 'fl');
    const viewerKey = await createKey(db, 'VIEWER');
    await feed.subscribe({
      url: srv.url,
      token: viewerKey,
      query: 'subscription { deliveryAttempts { startedAt durationMs } }',
      clients: 100,
    });
    await sleep(300);
    const r = await gen.open({ request: publish(srv.url, key, 'fl'), rate: 1000, seconds: quick ? 3 : 10 });
    await until(async () => (await receiver.stats('/ok/fl')).unique >= r.count, 120_000, 'feed-load receipts', 100);
    await until(async () => (await feed.feed()).received >= r.count * 100, 60_000, 'feed messages', 100).catch(
      () => undefined,
    );
    const l = await feed.feed();
    record(
      'live feed, 100 subscribers at 1,000 attempts/s: messages received ÷ sent',
      'ratio',
      l.received / (r.count * 100),
      '= 1',
      (m) => m >= 0.999,
    );
    record('live feed, 100 subscribers at 1,000 attempts/s: attempt-to-client p50', 'ms', l.p50);
    record(
      'live feed, 100 subscribers at 1,000 attempts/s: attempt-to-client p99',
      'ms',
      l.p99,
      '≤ 50 ms',
      (m) => m <= 50,
    );
    await receiver.reset();
  });
}

/**
 * What a dashboard that stops reading costs the delivery rate: the same drain
 * (webhook paused while its backlog is published, then resumed) with 5 reading
 * subscribers, and with 5 readers plus a raw subscriber that pauses its socket.
 * Moved here from the test suite: a throughput ratio is a measurement, not a pass/fail test.
 */
export async function stalledSubscriber(bench: Bench): Promise<void> {
  const { receiver, gen, feed } = bench;
  await scoped(async (defer) => {
    const db = await database(defer, 'stall');
    const publisherKey = await createKey(db, 'PUBLISHER');
    const supportKey = await createKey(db, 'SUPPORT');
    const viewerKey = await createKey(db, 'VIEWER');
    const [webhookId] = await createWebhooks(db, [`${receiver.url}/ok/stall`]);
    const srv = await server(defer, { env: { DATABASE_URL: db.url } });
    released(defer, bench);
    await feed.subscribe({
      url: srv.url,
      token: viewerKey,
      query: 'subscription($w: ID) { deliveryAttempts(webhookId: $w) { id } }',
      variables: { w: webhookId },
      clients: 5,
    });
    const n = quick ? 1000 : 3000;
    const support = (mutation: string) => ({
      url: srv.url,
      token: supportKey,
      query: mutation,
      variables: { id: webhookId },
    });
    const drain = async (): Promise<number> => {
      await call(gen, support('mutation($id: ID!) { pauseWebhook(id: $id) { id } }'));
      await receiver.reset();
      await gen.closed({ request: publish(srv.url, publisherKey, 's'), concurrency: 50, requests: n });
      const resumed = await call(gen, support('mutation($id: ID!) { resumeWebhook(id: $id) { id } }'));
      await until(async () => (await receiver.stats('/ok/stall')).unique >= n, 120_000, 'stall drain', 50);
      // From the resume request to the last receipt, both on the monotonic clock the processes share.
      return n / (Number(BigInt((await receiver.stats()).lastNs) - resumed.startNs) / 1e9);
    };
    await drain(); // warm-up
    const readers = await drain();
    await feed.stall({
      url: srv.url,
      token: viewerKey,
      query: 'subscription { deliveryAttempts { id errorMessage } }',
    });
    const stalled = await drain();
    await feed.unstall();
    record('stalled subscriber: delivery rate with 5 reading subscribers', 'deliveries/s', readers);
    record('stalled subscriber: delivery rate with 5 readers + 1 stalled', 'deliveries/s', stalled);
    record('stalled subscriber: stalled ÷ readers only', 'ratio', stalled / readers, '≥ 0.9', (m) => m >= 0.9);
  });
}
