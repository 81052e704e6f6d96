import http from 'node:http';
import { got, type Got } from 'got';
import { Pool, request } from 'undici';
import { sleep } from './stats.js';

// Load generation. The benchmark runs it in a process of its own
// (bench/generator.ts) so that the requests it times never queue behind the
// bench's bookkeeping. Closed loops: `concurrency` workers each send the next
// request as soon as the previous one is answered. Open loops: requests at a
// fixed rate whether or not earlier ones were answered, each timed from when it
// was due, so a server that falls behind shows its queueing (no coordinated omission).

export interface LoopResult {
  count: number;
  errors: number;
  latenciesMs: number[];
  seconds: number;
  /** process.hrtime.bigint() when the first request was sent (comparable with the receiver's timestamps). */
  startNs: bigint;
}

/**
 * `fn(seq)` gets the request's sequence number (0, 1, …); the loop ends after
 * `durationMs` or `requests` requests. `pauseMs`: each worker's think time between an answer and its next request.
 */
export async function closedLoop(
  concurrency: number,
  durationMs: number,
  fn: (seq: number) => Promise<void>,
  requests = Infinity,
  pauseMs = 0,
): Promise<LoopResult> {
  const end = performance.now() + durationMs;
  const latenciesMs: number[] = [];
  let count = 0;
  let errors = 0;
  let issued = 0;
  const startNs = process.hrtime.bigint();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end && issued < requests) {
        const t = performance.now();
        try {
          await fn(issued++);
          count++;
          latenciesMs.push(performance.now() - t);
        } catch {
          errors++;
        }
        if (pauseMs) await sleep(pauseMs);
      }
    }),
  );
  return { count, errors, latenciesMs, seconds: (performance.now() - started) / 1000, startNs };
}

/** `rate × seconds` requests, request `seq` due at start + seq / rate; its latency runs from then, not from when it went out. */
export async function openLoop(rate: number, seconds: number, fn: (seq: number) => Promise<void>): Promise<LoopResult> {
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latenciesMs: number[] = [];
  const inflight: Promise<void>[] = [];
  let count = 0;
  let errors = 0;
  const startNs = process.hrtime.bigint();
  const start = performance.now();
  const fire = async (seq: number) => {
    const due = start + seq * interval;
    try {
      await fn(seq);
      count++;
      latenciesMs.push(performance.now() - due);
    } catch {
      errors++;
    }
  };
  await new Promise<void>((sent) => {
    let seq = 0;
    const tick = () => {
      // Timers fire late under load: everything already due goes out at once.
      const now = performance.now();
      while (seq < total && start + seq * interval <= now) inflight.push(fire(seq++));
      if (seq < total) setTimeout(tick, start + seq * interval - now);
      else sent();
    };
    tick();
  });
  await Promise.all(inflight);
  return { count, errors, latenciesMs, seconds: (performance.now() - start) / 1000, startNs };
}

/**
 * A got instance configured as src/delivery/sender.ts configures its own:
 * keep-alive agent, no retries (the queue retries), no redirects, HTTP errors
 * as values, a request timeout (the server's HOOKLINE_DELIVERY_TIMEOUT default).
 */
export function senderGot(timeoutMs = 15_000): { client: Got; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' });
  const client = got.extend({
    agent: { http: agent },
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
    timeout: { request: timeoutMs },
  });
  return { client, close: () => agent.destroy() };
}

/** got as the sender uses it, posting `body` at `concurrency`. */
export async function gotRate(url: string, body: string, concurrency: number, durationMs: number): Promise<LoopResult> {
  const { client, close } = senderGot();
  const r = await closedLoop(concurrency, durationMs, async () => {
    await client.post(url, { body, headers: { 'content-type': 'application/json' } });
  });
  close();
  return r;
}

export async function undiciRate(
  url: string,
  body: string,
  concurrency: number,
  durationMs: number,
): Promise<LoopResult> {
  return closedLoop(concurrency, durationMs, async () => {
    const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await res.body.dump();
  });
}

export class GqlClient {
  private pool: Pool;
  private path: string;
  constructor(
    url: string,
    private readonly token: string,
    connections = 64,
  ) {
    const u = new URL(url);
    this.pool = new Pool(u.origin, { connections, pipelining: 1 });
    this.path = u.pathname;
  }

  async post<T = any>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const res = await this.pool.request({
      method: 'POST',
      path: this.path,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
      body: JSON.stringify({ query, variables }),
    });
    const json = (await res.body.json()) as { data?: T; errors?: { message: string }[] };
    if (json.errors?.length) throw new Error(json.errors[0]!.message);
    return json.data as T;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export const PUBLISH = `mutation($input: PublishEventInput!) { publishEvent(input: $input) { id } }`;

export function userPayload(id: string): Record<string, unknown> {
  return {
    id,
    first_name: 'Ada',
    last_name: 'Lovelace',
    email: `ada${id}@example.com`,
    roles: ['learner'],
    locale: 'en',
  };
}
