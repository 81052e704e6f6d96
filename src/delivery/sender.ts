import http from 'node:http';
import https from 'node:https';
import { got, type Got, RequestError } from 'got';
import { sign, signingKey } from '../domain/signing.js';
import type { AttemptResult } from '../domain/outcome.js';
import { BlockedDestinationError, blockedLiteral, guardedLookup } from './guarded-lookup.js';

// One tuned HTTP client for every attempt: keep-alive agents, no retries (the
// queue retries), no redirects (the contract forbids following them), and
// HTTP errors as values rather than exceptions.

export const RESPONSE_BODY_LIMIT = 4096;

export interface OutgoingMessage {
  url: string;
  eventId: string;
  body: string;
  bearerToken: string | null;
  hmacSecret: string | null;
}

export interface SendResult {
  result: AttemptResult;
  responseStatus: number | null;
  responseBody: string | null;
  errorMessage: string | null;
  durationMs: number;
  startedAt: Date;
}

export interface SenderOptions {
  timeoutMs: number;
  allowPrivate: () => boolean;
  userAgent: string;
  now?: () => number;
}

export class Sender {
  private readonly client: Got;
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly opts: SenderOptions) {
    const lookup = guardedLookup(opts.allowPrivate);
    const agentOptions = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo' as const, lookup };
    this.agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };
    this.client = got.extend({
      agent: this.agents,
      retry: { limit: 0 },
      followRedirect: false,
      throwHttpErrors: false,
      timeout: { request: opts.timeoutMs },
      decompress: true,
      dnsLookup: lookup,
    });
  }

  private key(secret: string): Buffer {
    let k = this.keys.get(secret);
    if (!k) {
      if (this.keys.size > 10_000) this.keys.clear();
      k = signingKey(secret);
      this.keys.set(secret, k);
    }
    return k;
  }

  headers(m: OutgoingMessage, timestampSeconds: number): Record<string, string> {
    const h: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': this.opts.userAgent,
      'webhook-id': m.eventId,
      'webhook-timestamp': String(timestampSeconds),
    };
    if (m.hmacSecret) h['webhook-signature'] = sign(this.key(m.hmacSecret), m.eventId, timestampSeconds, m.body);
    if (m.bearerToken) h.authorization = `Bearer ${m.bearerToken}`;
    return h;
  }

  async send(m: OutgoingMessage): Promise<SendResult> {
    const now = this.opts.now ?? Date.now;
    const started = now();
    const startedAt = new Date(started);
    const done = (result: AttemptResult, extra: Partial<SendResult>): SendResult => ({
      result,
      responseStatus: null,
      responseBody: null,
      errorMessage: null,
      ...extra,
      durationMs: Math.max(0, Math.round(now() - started)),
      startedAt,
    });

    let url: URL;
    try {
      url = new URL(m.url);
    } catch {
      return done({ kind: 'network' }, { errorMessage: 'destination URL is not valid' });
    }
    const literal = blockedLiteral(url, this.opts.allowPrivate());
    if (literal) return done({ kind: 'blocked' }, { errorMessage: `destination is a non-public address (${literal})` });

    try {
      const res = await this.client.post(url, {
        body: m.body,
        headers: this.headers(m, Math.floor(started / 1000)),
        responseType: 'buffer',
      });
      const body = res.body.length ? res.body.subarray(0, RESPONSE_BODY_LIMIT).toString('utf8') : null;
      const retryAfter = res.headers['retry-after'];
      return done(
        { kind: 'response', status: res.statusCode, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined },
        { responseStatus: res.statusCode, responseBody: body },
      );
    } catch (e) {
      return done(...classifyError(e, this.opts.timeoutMs));
    }
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function classifyError(e: unknown, timeoutMs: number): [AttemptResult, Partial<SendResult>] {
  const cause = e instanceof RequestError ? (e.cause ?? e) : e;
  if (cause instanceof BlockedDestinationError || (e as { code?: string }).code === 'HOOKLINE_BLOCKED') {
    const msg = cause instanceof BlockedDestinationError ? cause.message : 'destination resolves to a non-public address';
    return [{ kind: 'blocked' }, { errorMessage: msg }];
  }
  const code = (e as { code?: string }).code;
  if (code === 'ETIMEDOUT' || (e as Error).name === 'TimeoutError') {
    return [{ kind: 'timeout' }, { errorMessage: `no response within ${timeoutMs} ms` }];
  }
  const message = (e as Error).message ?? String(e);
  return [{ kind: 'network' }, { errorMessage: code ? `${code}: ${message}` : message }];
}
