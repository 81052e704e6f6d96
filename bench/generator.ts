import { once } from 'node:events';
import { createClient, type Client } from 'graphql-ws';
import { Pool } from 'undici';
import WebSocket from 'ws';
import {
  SEQ,
  serve,
  type ClientLoad,
  type ClosedLoad,
  type FeedStats,
  type GqlRequest,
  type LoadResult,
  type OpenLoad,
  type Subscribe,
} from './lib/ipc.js';
import { closedLoop, gotRate, openLoop, undiciRate, type LoopResult } from './lib/load.js';
import { latency } from './lib/stats.js';

// The load generator: a process of its own, driven over IPC by the bench
// (bench/lib/procs.ts startGenerator), so the requests it sends and times share
// an event loop with nothing but themselves. It also hosts live-feed
// subscribers (the bench starts a second one for those, so 100 subscribers
// never delay the publishes that feed them).

// One pool per server, kept across loads so a measurement starts on the warm-up's connections.
const pools = new Map<string, Pool>();

function pool(origin: string): Pool {
  let p = pools.get(origin);
  // More connections than any loop has in flight: waiting for one would be the generator's queueing, not the server's.
  if (!p) pools.set(origin, (p = new Pool(origin, { connections: 256, pipelining: 1 })));
  return p;
}

function poster(r: GqlRequest): { send(seq: number): Promise<void>; failure(): string | undefined } {
  const u = new URL(r.url);
  const p = pool(u.origin);
  // The body is built once and split at the placeholder: per request only the joins are left.
  const parts = JSON.stringify({ query: r.query, variables: r.variables }).split(SEQ);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (r.token) headers.authorization = `Bearer ${r.token}`;
  let failure: string | undefined;
  return {
    failure: () => failure,
    send: async (seq) => {
      try {
        const res = await p.request({ method: 'POST', path: u.pathname, headers, body: parts.join(String(seq)) });
        const json = (await res.body.json()) as { errors?: { message: string }[] };
        if (res.statusCode !== 200 || json.errors?.length) {
          throw new Error(json.errors?.[0]?.message ?? `HTTP ${res.statusCode}`);
        }
      } catch (e) {
        failure ??= e instanceof Error ? e.message : String(e);
        throw e;
      }
    },
  };
}

function report(r: LoopResult, firstError?: string): LoadResult {
  const l = latency(r.latenciesMs);
  return {
    count: r.count,
    errors: r.errors,
    firstError,
    seconds: r.seconds,
    rate: r.count / r.seconds,
    p50: l.p50,
    p99: l.p99,
    max: l.max,
    startNs: r.startNs,
  };
}

const feed = { clients: [] as Client[], stalled: [] as WebSocket[], received: 0, latenciesMs: [] as number[] };

type Attempt = { startedAt?: string; durationMs?: number } | null | undefined;

function received(data: Record<string, Attempt> | null | undefined): void {
  feed.received++;
  const attempt = data ? Object.values(data)[0] : undefined;
  // The attempt ended at startedAt + durationMs by the server's wall clock; Date.now() is the same clock here.
  if (attempt?.startedAt !== undefined && attempt.durationMs !== undefined) {
    feed.latenciesMs.push(Date.now() - (Date.parse(attempt.startedAt) + attempt.durationMs));
  }
}

async function subscribe(s: Subscribe): Promise<void> {
  const url = s.url.replace(/^http/, 'ws');
  const connected = Array.from({ length: s.clients }, () => {
    const c = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${s.token}` },
      lazy: false,
    });
    feed.clients.push(c);
    c.subscribe<Record<string, Attempt>>(
      { query: s.query, variables: s.variables },
      { next: ({ data }) => received(data), error: () => undefined, complete: () => undefined },
    );
    return new Promise<void>((ready) => c.on('connected', () => ready()));
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${s.clients} subscribers did not connect within 30 s`)), 30_000);
  });
  await Promise.race([Promise.all(connected), timeout]).finally(() => clearTimeout(timer));
}

async function stall(s: Omit<Subscribe, 'clients' | 'variables'>): Promise<void> {
  const raw = new WebSocket(s.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  feed.stalled.push(raw);
  await once(raw, 'open');
  raw.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${s.token}` } }));
  await once(raw, 'message');
  raw.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: s.query } }));
  (raw as unknown as { _socket: { pause(): void } })._socket.pause();
}

serve({
  closed: async (load: ClosedLoad) => {
    const p = poster(load.request);
    const r = await closedLoop(load.concurrency, load.durationMs ?? Infinity, p.send, load.requests, load.pauseMs);
    return report(r, p.failure());
  },
  open: async (load: OpenLoad) => {
    const p = poster(load.request);
    return report(await openLoop(load.rate, load.seconds, p.send), p.failure());
  },
  client: async (load: ClientLoad) =>
    report(
      await (load.client === 'got' ? gotRate : undiciRate)(load.url, load.body, load.concurrency, load.durationMs),
    ),
  subscribe,
  stall,
  unstall: () => {
    for (const raw of feed.stalled) raw.terminate();
    feed.stalled = [];
  },
  feed: (): FeedStats => ({ received: feed.received, ...latency(feed.latenciesMs) }),
  release: async () => {
    await Promise.all(feed.clients.map(async (c) => c.dispose()));
    for (const raw of feed.stalled) raw.terminate();
    Object.assign(feed, { clients: [], stalled: [], received: 0, latenciesMs: [] });
    await Promise.all([...pools.values()].map((p) => p.destroy()));
    pools.clear();
  },
});
