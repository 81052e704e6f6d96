import http from 'node:http';
import { got } from 'got';
import { Pool, request } from 'undici';

// Load generation. Closed loops: `concurrency` workers each send the next
// request as soon as the previous one is answered.

export async function closedLoop(
  concurrency: number,
  durationMs: number,
  fn: () => Promise<void>,
): Promise<{ count: number; errors: number; latenciesMs: number[]; seconds: number }> {
  const end = performance.now() + durationMs;
  const latenciesMs: number[] = [];
  let count = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await fn();
          count++;
          latenciesMs.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return { count, errors, latenciesMs, seconds: (performance.now() - started) / 1000 };
}

/** The got configuration the sender uses (keep-alive, no retries), posting `body` at `concurrency`. */
export async function gotRate(url: string, body: string, concurrency: number, durationMs: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const client = got.extend({
    agent: { http: agent },
    retry: { limit: 0 },
    followRedirect: false,
    throwHttpErrors: false,
  });
  const r = await closedLoop(concurrency, durationMs, async () => {
    await client.post(url, { body, headers: { 'content-type': 'application/json' } });
  });
  agent.destroy();
  return r.count / r.seconds;
}

export async function undiciRate(url: string, body: string, concurrency: number, durationMs: number): Promise<number> {
  const r = await closedLoop(concurrency, durationMs, async () => {
    const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    await res.body.dump();
  });
  return r.count / r.seconds;
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
