import { scopeOf } from '../domain/accounts.js';
import { GraphQLError, subscribe, type GraphQLSchema } from 'graphql';
import { CloseCode, handleProtocols, makeServer, type Context as WsContext } from 'graphql-ws';
import type http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { SlowConsumerError } from '../feed/bounded-pubsub.js';
import type { SharedSubscriptions } from '../feed/shared-subscriptions.js';
import { createLoaders, type Context } from '../graphql/context.js';
import type { Logger } from '../logger.js';
import type { Services } from '../services/index.js';
import { isExpired } from '../services/api-keys.js';
import type { ApiKey } from '../storage/entities/index.js';
import { admit } from './admission/index.js';
import { present } from './admission/present.js';
import { Redactor, secretsOf } from './admission/redact.js';
import { bearerToken } from './auth.js';
import { logOperation, outcomeOf } from './oplog.js';

// graphql-ws on the HTTP server's port and path, through the same admission
// path as HTTP (server/admission): same limits, same codes, same masking, the
// same per-operation log line. Our own adapter over graphql-ws's makeServer
// (instead of graphql-ws/use/ws) so that nothing reaches the console and
// every refusal has a documented close code (README, "WebSocket limits"):
//   1009 frame larger than the body limit (enforced by ws before parsing)
//   4400 a message that is not graphql-transport-ws
//   4403 no, an invalid, a revoked or an expired API key
//   4408 connection_init not sent in time (graphql-ws), or a subscriber too slow to keep up
//   4429 too many connections for one API key
//   1013 the keys of open connections could not be checked again after lost notices
//   1001 the server is shutting down
// graphql-ws waits for each send to complete, so a dashboard that stops
// reading backs up into its BoundedPubSub queue; when that overflows the
// connection is closed with 4408, never blocking anyone else.
// The key is checked again for every operation, through the same cache as an
// HTTP request's (services/api-keys.ts): a key revoked or expired since the
// connection opened closes it (4403) at its next operation at the latest. A
// revocation's NOTIFY closes its connections at once; when notices may have
// been lost (the LISTEN connection reconnected), recheckKeys closes the
// connections of every key revoked meanwhile.

export const CLOSE_SLOW_CONSUMER = 4408;
export const CLOSE_KEY_LIMIT = 4429;
export const CLOSE_GOING_AWAY = 1001;
const CLOSE_TRY_AGAIN = 1013;
const EXPIRY_CHECK_MS = 2_000;

export interface WebSocketLimits {
  /** Largest frame, in bytes (the HTTP body limit). */
  maxPayloadBytes: number;
  /** connection_init must arrive within this. */
  initTimeoutMs: number;
  keepAliveMs: number;
  operationsPerConnection: number;
  connectionsPerKey: number;
}

interface Extra {
  socket: WebSocket;
  connectionId: number;
  apiKey?: ApiKey;
  /** The bearer token of connection_init, authenticated again for every operation. */
  token?: string;
  ops: Map<string, { started: number; redactor: Redactor; name: string | null; type: string; failed: string | null }>;
}

export function attachWebSocket(
  server: http.Server,
  schema: GraphQLSchema,
  services: Services,
  log: Logger,
  limits: WebSocketLimits,
  shared: SharedSubscriptions,
) {
  // A client offering only another subprotocol completes the handshake and is
  // then told 4406 with a reason, rather than seeing the handshake fail.
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    maxPayload: limits.maxPayloadBytes,
    handleProtocols: (offered: Set<string>) => handleProtocols(offered) || ([...offered][0] ?? false),
  });
  const byKey = new Map<string, { key: ApiKey; sockets: Set<WebSocket> }>();
  let connections = 0;
  const requestId = (ctx: WsContext<Record<string, unknown> | undefined, Extra>, id: string) =>
    `ws-${ctx.extra.connectionId}-${id}`;

  // The operation a subscription's context belongs to, by role: what may share one execution (feed/shared-subscriptions.ts).
  const shareKeys = new WeakMap<object, string>();

  const gql = makeServer<Record<string, unknown> | undefined, Extra>({
    schema,
    connectionInitWaitTimeout: limits.initTimeoutMs,
    subscribe: (args) => {
      const key = shareKeys.get(args.contextValue as object);
      return key === undefined ? subscribe(args) : shared.join(key, () => subscribe(args));
    },
    onConnect: async (ctx) => {
      const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
      const token = bearerToken(typeof raw === 'string' ? raw : undefined);
      if (!token) return false;
      const auth = await services.apiKeys.authenticate(token);
      if (!auth) return false;
      if ('refused' in auth) {
        ctx.extra.socket.close(CloseCode.Forbidden, 'API key expired');
        return false;
      }
      const { key } = auth;
      const entry = byKey.get(key.id) ?? { key, sockets: new Set<WebSocket>() };
      if (entry.sockets.size >= limits.connectionsPerKey) {
        log.warn(
          { apiKey: key.id, limit: limits.connectionsPerKey },
          'live feed connection refused: too many for this key',
        );
        ctx.extra.socket.close(
          CLOSE_KEY_LIMIT,
          `too many connections for this API key (at most ${limits.connectionsPerKey})`,
        );
        return false;
      }
      entry.sockets.add(ctx.extra.socket);
      byKey.set(key.id, entry);
      ctx.extra.apiKey = key;
      ctx.extra.token = token;
      log.info({ apiKey: key.id, role: key.role, connection: ctx.extra.connectionId }, 'live feed connected');
      return true;
    },
    onSubscribe: async (ctx, id, payload) => {
      const started = performance.now();
      const redactor = new Redactor(secretsOf(null, payload.variables));
      const op = {
        started,
        redactor,
        name: payload.operationName ?? null,
        type: 'unknown',
        failed: null as string | null,
      };
      ctx.extra.ops.set(id, op);
      if (ctx.extra.ops.size > limits.operationsPerConnection) {
        return [
          refusal(
            `at most ${limits.operationsPerConnection} operations at once on one connection: complete some first`,
          ),
        ];
      }
      const refused = await keyRefusal(ctx.extra);
      if (refused) {
        op.failed = 'UNAUTHENTICATED';
        ctx.extra.socket.close(CloseCode.Forbidden, refused);
        return [new GraphQLError(refused, { extensions: { code: 'UNAUTHENTICATED' } })];
      }
      const admitted = admit(schema, payload);
      if (admitted.document) op.redactor = new Redactor(secretsOf(admitted.document, payload.variables));
      if (!admitted.ok) return admitted.errors;
      op.type = admitted.operation.operation;
      op.name = admitted.operationName ?? admitted.operation.name?.value ?? null;
      const apiKey = ctx.extra.apiKey ?? null;
      const scope = scopeOf(apiKey);
      const contextValue: Context = { apiKey, scope, services, loaders: createLoaders(services, scope) };
      if (op.type === 'subscription') {
        // Shared only by subscribers who see alike: the same role and the same account.
        shareKeys.set(
          contextValue,
          JSON.stringify([apiKey?.role ?? null, scope.accountId, payload.query, op.name, admitted.variables ?? null]),
        );
      }
      return {
        schema,
        document: admitted.document,
        operationName: admitted.operationName,
        variableValues: admitted.variables,
        contextValue,
      };
    },
    onNext: (ctx, id, _payload, _args, result) => {
      if (!result.errors?.length) return;
      const op = ctx.extra.ops.get(id);
      const scope = { requestId: requestId(ctx, id), redactor: op?.redactor ?? Redactor.none };
      const errors = result.errors.map((e) => present(e, scope, log));
      if (op) op.failed ??= outcomeOf(errors);
      return { ...result, errors };
    },
    onError: (ctx, id, _payload, errors) => {
      const op = ctx.extra.ops.get(id);
      if (errors.some((e) => e.originalError instanceof SlowConsumerError)) {
        log.warn(
          { apiKey: ctx.extra.apiKey?.id, connection: ctx.extra.connectionId },
          'live feed subscriber too slow; closing',
        );
        ctx.extra.socket.close(
          CLOSE_SLOW_CONSUMER,
          'Subscriber too slow: reconnect and catch up from the delivery log',
        );
        if (op) op.failed = 'SLOW_CONSUMER';
        return;
      }
      const scope = { requestId: requestId(ctx, id), redactor: op?.redactor ?? Redactor.none };
      const formatted = errors.map((e) => present(e, scope, log));
      if (op) op.failed ??= outcomeOf(formatted);
      // An error message ends the operation: graphql-ws sends no complete after it.
      finish(ctx, id);
      return formatted;
    },
    onComplete: (ctx, id) => finish(ctx, id),
    onClose: (ctx) => {
      for (const id of [...ctx.extra.ops.keys()]) finish(ctx, id);
      const key = ctx.extra.apiKey;
      if (key) byKey.get(key.id)?.sockets.delete(ctx.extra.socket);
      if (key && byKey.get(key.id)?.sockets.size === 0) byKey.delete(key.id);
    },
  });

  function finish(ctx: WsContext<Record<string, unknown> | undefined, Extra>, id: string): void {
    const op = ctx.extra.ops.get(id);
    if (!op) return;
    ctx.extra.ops.delete(id);
    logOperation(log, {
      transport: 'ws',
      requestId: requestId(ctx, id),
      operation: op.name,
      type: op.type,
      apiKey: ctx.extra.apiKey?.id ?? null,
      ms: performance.now() - op.started,
      outcome: op.failed ?? 'ok',
    });
  }

  /** Why the connection's key no longer works (revoked or expired), or null while it does. */
  async function keyRefusal(extra: Extra): Promise<string | null> {
    const auth = extra.token ? await services.apiKeys.authenticate(extra.token) : null;
    if (!auth) return 'API key revoked';
    return 'refused' in auth ? 'API key expired' : null;
  }

  // An expiring key's connections are closed like a revoked key's, checked every few seconds.
  const expiry = setInterval(() => {
    const now = services.clock.now();
    for (const [keyId, { key }] of byKey) if (isExpired(key, now)) closeKey(keyId, 'API key expired');
  }, EXPIRY_CHECK_MS);
  expiry.unref();

  function closeKey(keyId: string, reason: string): number {
    const entry = byKey.get(keyId);
    if (!entry) return 0;
    for (const socket of entry.sockets) socket.close(CloseCode.Forbidden, reason);
    return entry.sockets.size;
  }

  /**
   * Reads every connected key from the database (not the cache) and closes the
   * connections of those revoked or expired. When that read fails, every
   * connection is closed (1013): an unchecked key keeps none, and clients
   * reconnect and authenticate afresh.
   */
  async function recheckKeys(): Promise<number> {
    const ids = [...byKey.keys()];
    if (ids.length === 0) return 0;
    let live: Map<string, ApiKey>;
    try {
      live = new Map((await services.apiKeys.unrevoked(ids)).map((k) => [k.id, k]));
    } catch (err) {
      for (const socket of wss.clients) socket.close(CLOSE_TRY_AGAIN, 'could not check the API key again: reconnect');
      throw err;
    }
    const now = services.clock.now();
    let closed = 0;
    for (const id of ids) {
      const key = live.get(id);
      if (!key) closed += closeKey(id, 'API key revoked');
      else if (isExpired(key, now)) closed += closeKey(id, 'API key expired');
    }
    return closed;
  }

  wss.on('error', (err) => log.error({ err: err.message }, 'WebSocket server error'));
  wss.on('connection', (socket) => {
    const connectionId = ++connections;
    socket.on('error', (err) => log.warn({ connection: connectionId, err: err.message }, 'WebSocket connection error'));
    // Keep-alive: a connection that stops answering pings is dropped.
    let pongWait: NodeJS.Timeout | null = null;
    const ping = setInterval(() => {
      if (socket.readyState !== socket.OPEN) return;
      pongWait = setTimeout(() => socket.terminate(), limits.keepAliveMs);
      socket.once('pong', () => {
        if (pongWait) clearTimeout(pongWait);
        pongWait = null;
      });
      socket.ping();
    }, limits.keepAliveMs);
    const closed = gql.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (err) => (err ? reject(err) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (cb) =>
          socket.on('message', (data) => {
            cb(String(data)).catch((err: unknown) => {
              log.error(
                { connection: connectionId, err: err instanceof Error ? err.message : String(err) },
                'live feed message failed',
              );
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket, connectionId, ops: new Map() },
    );
    socket.once('close', (code, reason) => {
      if (pongWait) clearTimeout(pongWait);
      clearInterval(ping);
      void closed(code, String(reason));
    });
  });

  return {
    wss,
    /** Closes every connection of this key (revoked or expired): its subscriptions end with it. */
    closeKey,
    recheckKeys,
    close: async () => {
      clearInterval(expiry);
      for (const socket of wss.clients) socket.close(CLOSE_GOING_AWAY, 'server shutting down');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

function refusal(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}
