import type { GraphQLSchema } from 'graphql';
import type http from 'node:http';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import { createLoaders, type Context } from '../graphql/context.js';
import type { Services } from '../services/index.js';
import type { ApiKey } from '../storage/entities/index.js';
import { bearerToken } from './http.js';

// graphql-ws on the HTTP server's port and path. The key is checked once, in
// connection_init: no valid key → close 4403 Forbidden (the protocol's code).
// A dashboard that stops reading is closed with 4408 rather than buffering
// without bound in this process.

export const KEEP_ALIVE_MS = 12_000;
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
export const CLOSE_SLOW_CONSUMER = 4408;

export function attachWebSocket(server: http.Server, schema: GraphQLSchema, services: Services, log: Logger) {
  const wss = new WebSocketServer({ server, path: '/graphql' });
  const disposable = useServer<Record<string, unknown> | undefined, { apiKey: ApiKey }>(
    {
      schema,
      onConnect: async (ctx) => {
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const token = bearerToken(typeof raw === 'string' ? raw : undefined);
        const key = token ? await services.apiKeys.authenticate(token) : null;
        if (!key) return false;
        ctx.extra.apiKey = key;
        log.info({ apiKey: key.id, role: key.role }, 'live feed connected');
        return true;
      },
      context: (ctx): Context => ({ apiKey: ctx.extra.apiKey ?? null, services, loaders: createLoaders(services.ds) }),
      onNext: (ctx) => {
        const socket = ctx.extra.socket;
        if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
          socket.close(CLOSE_SLOW_CONSUMER, 'Subscriber too slow: reconnect and catch up from the delivery log');
        }
      },
      onError: (_ctx, _id, _payload, errors) =>
        errors.map((e) => ({ message: e.message, extensions: { code: (e.extensions?.code as string) ?? 'BAD_USER_INPUT' } })),
    },
    wss,
    KEEP_ALIVE_MS,
  );
  return {
    wss,
    close: async () => {
      await disposable.dispose();
      wss.close();
    },
  };
}
