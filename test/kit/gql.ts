import assert from 'node:assert/strict';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { ApiKeyRole } from '../../src/domain/roles.js';
import { eventually } from './eventually.js';

// The GraphQL clients tests use: plain fetch over HTTP, and the official
// graphql-ws client over WebSocket.

export interface GqlError {
  message: string;
  path?: string[];
  extensions?: { code?: string; field?: string; [k: string]: unknown };
}

export interface GqlResult<T = any> {
  data?: T | null;
  errors?: GqlError[];
}

/** POST a GraphQL request; token: a role name (default SUPPORT), a raw token, or null for none. */
export type Gql = <T = any>(
  query: string,
  variables?: Record<string, unknown>,
  token?: ApiKeyRole | string | null,
) => Promise<GqlResult<T>>;

export function httpClient(url: string, keys: Partial<Record<ApiKeyRole, string>>): Gql {
  return async <T>(
    query: string,
    variables?: Record<string, unknown>,
    token: ApiKeyRole | string | null = 'SUPPORT',
  ) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${keys[token as ApiKeyRole] ?? token}`;
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as GqlResult<T>;
  };
}

export function codes(r: GqlResult): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}

/** The data of a GraphQL result, failing the test with the whole result when it has errors. */
export function must<T>(r: GqlResult<T>, what = 'request'): T {
  assert.ok(!r.errors?.length && r.data, `${what} failed: ${JSON.stringify(r)}`);
  return r.data as T;
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
 * Repeats `trigger` until `ready()` holds: the protocol has no acknowledgement
 * for a subscribe message, so the only proof that a subscription is live is
 * that it received something published after it was opened.
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
    const settled = await eventually(() => ready(), Math.min(perTryMs, Math.max(0, until - Date.now())), what).then(
      () => true,
      () => false,
    );
    if (settled) return;
  }
  throw new Error(`subscriptions never became live: ${what}`);
}
