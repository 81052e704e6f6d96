import http from 'node:http';
import type net from 'node:net';
import https from 'node:https';
import { got, type Got, RequestError, type Request } from 'got';
import { attemptTimings, recordedResponseHeaders, remoteAddress, type AttemptTimings } from '../domain/forensics.js';
import type { KeyObject } from 'node:crypto';
import { privateKeyFrom, signatureHeader, signingKey } from '../domain/signing.js';
import type { AttemptResult } from '../domain/outcome.js';
import type { Clock } from '../domain/clock.js';
import type { UrlPolicy } from '../domain/url-policy.js';
import { BlockedDestinationError, blockedLiteral, guardedLookup } from './guarded-lookup.js';

// One tuned HTTP client for every attempt: keep-alive agents, no retries (the
// queue retries), no redirects (the contract forbids following them), and
// HTTP errors as values rather than exceptions.

export const RESPONSE_BODY_LIMIT = 4096;
// Read at most this much of a response, then drop the connection: a destination
// streaming without end must not hold memory or turn a success into a timeout.
const RESPONSE_READ_LIMIT = 64 * 1024;

export interface OutgoingMessage {
  url: string;
  eventId: string;
  body: string;
  bearerToken: string | null;
  /** HMAC secrets to sign with, new first (two during a rotation's overlap). */
  hmacSecrets: readonly string[];
  /** ED25519 private keys (PKCS#8 DER, base64) to sign with, new first. */
  signingKeys: readonly string[];
  /** W3C traceparent naming the attempt's span (Webhook.sendTraceparent); absent: none sent. */
  traceparent?: string;
  /** The webhook's custom headers, values opened, in their order (domain/headers.ts checked the names). */
  headers?: readonly (readonly [string, string])[];
}

export interface SendResult {
  result: AttemptResult;
  responseStatus: number | null;
  responseBody: string | null;
  errorMessage: string | null;
  durationMs: number;
  startedAt: Date;
  /** Forensics (domain/forensics.ts): null when no connection was made. */
  remoteAddress: string | null;
  /** null without a response. */
  responseHeaders: Record<string, string | number> | null;
  /** null when no request was made (an invalid or blocked URL). */
  timings: AttemptTimings | null;
}

export interface SenderOptions {
  timeoutMs: number;
  urlPolicy: UrlPolicy;
  userAgent: string;
  clock: Clock;
}

/** What one request has shown of its connection so far. */
interface Connection {
  stream: Request | null;
  address: string | null;
}

export class Sender {
  private readonly client: Got;
  private readonly agents: { http: http.Agent; https: https.Agent };
  // Derived signing keys, by the secret they come from: derived once, not per delivery.
  private readonly hmacKeys = new Map<string, Buffer>();
  private readonly edKeys = new Map<string, KeyObject>();

  constructor(private readonly opts: SenderOptions) {
    const lookup = guardedLookup(() => opts.urlPolicy.allowPrivate);
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

  private derived<T>(cache: Map<string, T>, secret: string, derive: (s: string) => T): T {
    let k = cache.get(secret);
    if (k === undefined) {
      if (cache.size > 10_000) cache.clear();
      k = derive(secret);
      cache.set(secret, k);
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
    const signature = signatureHeader(
      {
        hmac: m.hmacSecrets.map((s) => this.derived(this.hmacKeys, s, signingKey)),
        ed25519: m.signingKeys.map((s) => this.derived(this.edKeys, s, privateKeyFrom)),
      },
      m.eventId,
      timestampSeconds,
      m.body,
    );
    if (signature) h['webhook-signature'] = signature;
    if (m.bearerToken) h.authorization = `Bearer ${m.bearerToken}`;
    if (m.traceparent) h.traceparent = m.traceparent;
    // After the contract's own: the names were checked never to be one of them.
    if (m.headers) for (const [name, value] of m.headers) h[name] = value;
    return h;
  }

  /** `started` is called once the request is handed to Node's HTTP client (delivery/send-gate.ts waits for it). */
  async send(m: OutgoingMessage, started: () => void = () => undefined): Promise<SendResult> {
    // Wall time for the record and the signature; a monotonic clock for the duration.
    const startedMs = this.opts.clock.now();
    const startedAt = new Date(startedMs);
    const t0 = performance.now();
    const done = (result: AttemptResult, extra: Partial<SendResult>): SendResult => ({
      result,
      responseStatus: null,
      responseBody: null,
      errorMessage: null,
      remoteAddress: null,
      responseHeaders: null,
      timings: null,
      ...extra,
      durationMs: Math.max(0, Math.round(performance.now() - t0)),
      startedAt,
    });

    let url: URL;
    try {
      url = new URL(m.url);
    } catch {
      return done({ kind: 'network' }, { errorMessage: 'destination URL is not valid' });
    }
    const refused = blockedLiteral(url, this.opts.urlPolicy);
    if (refused) return done({ kind: 'blocked' }, { errorMessage: refused });

    const conn: Connection = { stream: null, address: null };
    const forensics = (responseHeaders: Record<string, string | number> | null): Partial<SendResult> => {
      const s = conn.stream;
      if (!s) return {};
      return {
        remoteAddress: conn.address,
        responseHeaders,
        timings: attemptTimings(s.timings?.phases ?? {}, s.reusedSocket === true, performance.now() - t0),
      };
    };
    try {
      const res = await this.post(url, m.body, this.headers(m, Math.floor(startedMs / 1000)), started, conn);
      const retryAfter = res.headers['retry-after'];
      return done(
        { kind: 'response', status: res.status, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined },
        {
          responseStatus: res.status,
          responseBody: excerpt(res.body),
          ...forensics(recordedResponseHeaders(res.headers)),
        },
      );
    } catch (e) {
      const [result, extra] = classifyError(e, this.opts.timeoutMs);
      return done(result, { ...extra, ...forensics(null) });
    }
  }

  /** POSTs and reads the first RESPONSE_BODY_LIMIT bytes of the answer (at most RESPONSE_READ_LIMIT are read). */
  private post(
    url: URL,
    body: string,
    headers: Record<string, string>,
    started: () => void,
    conn: Connection,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const stream = this.client.stream.post(url, { body, headers });
      conn.stream = stream;
      stream.once('request', (req: http.ClientRequest) => {
        // Read when connected: by the answer (or an error) the socket may be gone or back in the pool.
        const connected = (socket: net.Socket) => {
          conn.address = remoteAddress(socket.remoteAddress, socket.remotePort);
        };
        const onSocket = (socket: net.Socket) => {
          if (socket.remoteAddress) connected(socket);
          else socket.once('connect', () => connected(socket));
        };
        if (req.socket) onSocket(req.socket);
        else req.once('socket', onSocket);
        started();
      });
      let status = 0;
      let resHeaders: http.IncomingHttpHeaders = {};
      const kept: Buffer[] = [];
      let keptBytes = 0;
      let seen = 0;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        resolve({ status, headers: resHeaders, body: Buffer.concat(kept) });
      };
      stream.on('response', (res: http.IncomingMessage) => {
        status = res.statusCode ?? 0;
        resHeaders = res.headers;
      });
      stream.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (keptBytes < RESPONSE_BODY_LIMIT + 4) {
          const part = chunk.subarray(0, RESPONSE_BODY_LIMIT + 4 - keptBytes);
          kept.push(part);
          keptBytes += part.length;
        }
        if (seen > RESPONSE_READ_LIMIT) {
          finish();
          stream.destroy();
        }
      });
      stream.on('end', finish);
      stream.on('error', (err) => {
        if (settled) return;
        settled = true;
        reject(err);
      });
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

function classifyError(e: unknown, timeoutMs: number): [AttemptResult, Partial<SendResult>] {
  const cause = e instanceof RequestError ? (e.cause ?? e) : e;
  if (cause instanceof BlockedDestinationError || (e as { code?: string }).code === 'HOOKLINE_BLOCKED') {
    const msg =
      cause instanceof BlockedDestinationError ? cause.message : 'destination resolves to a non-public address';
    return [{ kind: 'blocked' }, { errorMessage: msg }];
  }
  const code = (e as { code?: string }).code;
  if (code === 'ETIMEDOUT' || (e as Error).name === 'TimeoutError') {
    return [{ kind: 'timeout' }, { errorMessage: `no response within ${timeoutMs} ms` }];
  }
  const message = ((e as Error).message ?? String(e)).replace(/\u0000/g, '').slice(0, 1000);
  return [{ kind: 'network' }, { errorMessage: code ? `${code}: ${message}` : message }];
}

/**
 * The first RESPONSE_BODY_LIMIT bytes as text, cut at a UTF-8 character
 * boundary, without NUL (PostgreSQL text cannot hold it); null when empty.
 */
export function excerpt(body: Buffer): string | null {
  if (body.length === 0) return null;
  let end = Math.min(body.length, RESPONSE_BODY_LIMIT);
  if (body.length > RESPONSE_BODY_LIMIT) {
    // Step back over continuation bytes (10xxxxxx) so a character is never split.
    while (end > 0 && (body[end]! & 0xc0) === 0x80) end--;
  }
  return body
    .subarray(0, end)
    .toString('utf8')
    .replace(/\u0000/g, '');
}
