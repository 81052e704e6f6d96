import 'reflect-metadata';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { ApiKeyRole } from '../../src/domain/roles.js';
import { startHookline, type Hookline } from '../../src/server/runtime.js';
import { freshDatabase, type TestDatabase } from './db.js';

export interface GqlResult<T = any> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; field?: string } }[];
}

export interface TestServer {
  hookline: Hookline;
  db: TestDatabase;
  url: string;
  keys: Record<ApiKeyRole, string>;
  /** POST a GraphQL request; token: a role name, a raw token, or null for none. */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    token?: ApiKeyRole | string | null,
  ): Promise<GqlResult<T>>;
  stop(): Promise<void>;
}

/** A real server on a random port against a fresh database; private destinations allowed (receivers are local). */
export async function startTestServer(
  label: string,
  env: Record<string, string> = {},
  existing?: TestDatabase,
): Promise<TestServer> {
  const db = existing ?? (await freshDatabase(label));
  const config = loadConfig({
    DATABASE_URL: db.url,
    PORT: '0',
    HOST: '127.0.0.1',
    HOOKLINE_LOG_LEVEL: process.env.HOOKLINE_TEST_LOG_LEVEL ?? 'silent',
    HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'true',
    HOOKLINE_POLL_INTERVAL: '200ms',
    ...env,
  });
  const hookline = await startHookline(config, createLogger(config.logLevel));
  const keys = {} as Record<ApiKeyRole, string>;
  for (const role of ['SUPPORT', 'PUBLISHER', 'VIEWER'] as const) {
    keys[role] = (await hookline.services.apiKeys.create(`test ${role}`, role)).token;
  }
  const gql = async <T>(
    query: string,
    variables?: Record<string, unknown>,
    token: ApiKeyRole | string | null = 'SUPPORT',
  ) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${keys[token as ApiKeyRole] ?? token}`;
    const res = await fetch(hookline.url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as GqlResult<T>;
  };
  return {
    hookline,
    db,
    url: hookline.url,
    keys,
    gql,
    stop: async () => {
      await hookline.stop();
      if (!existing) await db.drop();
    },
  };
}

/** Waits for a condition that something asynchronous will make true; fails after `ms`. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  ms = 10_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function codes(r: GqlResult): (string | undefined)[] {
  return (r.errors ?? []).map((e) => e.extensions?.code);
}
