// The bench's helper processes (load generator, trivial HTTP server,
// graphile-worker baseline) are driven over IPC: the parent (bench/lib/procs.ts)
// sends { id, cmd, args }, the child answers { id, result } or { id, error }.
// Only data crosses (advanced serialization: bigint, Map, NaN survive), so a
// request is described, never passed as a function.

/** In a request's JSON, replaced by the request's sequence number (0, 1, …) in every place it occurs. */
export const SEQ = '{seq}';

/** A GraphQL POST as the generator sends it; SEQ anywhere in the variables makes each body distinct. */
export interface GqlRequest {
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  token?: string;
  query: string;
  variables?: Record<string, unknown>;
}

export interface ClosedLoad {
  request: GqlRequest;
  concurrency: number;
  /** Default: no time limit (then `requests` ends the loop). */
  durationMs?: number;
  requests?: number;
  /** Each worker's think time between an answer and its next request. */
  pauseMs?: number;
}

export interface OpenLoad {
  request: GqlRequest;
  rate: number;
  seconds: number;
}

/** got or undici posting a fixed body, as a delivery would (the client limit rows). */
export interface ClientLoad {
  client: 'got' | 'undici';
  url: string;
  body: string;
  concurrency: number;
  durationMs: number;
}

export interface LoadResult {
  /** Requests answered without an error. */
  count: number;
  errors: number;
  firstError?: string;
  seconds: number;
  /** count / seconds */
  rate: number;
  p50: number;
  p99: number;
  max: number;
  /** process.hrtime.bigint() in the generator when the loop began: CLOCK_MONOTONIC, comparable with the receiver's. */
  startNs: bigint;
}

export interface Subscribe {
  url: string;
  token: string;
  query: string;
  variables?: Record<string, unknown>;
  clients: number;
}

export interface FeedStats {
  received: number;
  /** Attempt-to-client latency of the messages that carry an attempt's startedAt and durationMs. */
  p50: number;
  p99: number;
  max: number;
  n: number;
}

type Handler = (args: any) => unknown;

/** Child side: answers the parent's commands, then announces itself with `hello`. */
export function serve(handlers: Record<string, Handler>, hello: Record<string, unknown> = {}): void {
  process.on('message', async (m: { id: number; cmd: string; args?: unknown }) => {
    try {
      const handler = handlers[m.cmd];
      if (!handler) throw new Error(`unknown command ${m.cmd}`);
      process.send!({ id: m.id, result: await handler(m.args) });
    } catch (e) {
      process.send!({ id: m.id, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  });
  // The parent died without killing this process: nobody is left to serve.
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true, ...hello });
}
