import type { GraphQLSchema } from 'graphql';
import type http from 'node:http';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import { createLoaders, type Context } from '../graphql/context.js';
import type { Services } from '../services/index.js';
import type { ApiKey } from '../storage/entities/index.js';
import { bearerToken } from './http.js';
import { SlowConsumerError } from '../feed/bounded-pubsub.js';
import { HooklineError } from '../domain/errors.js';
import { extensionsOf, formatError } from './errors.js';

// graphql-ws on the HTTP server's port and path. The key is checked once, in
// connection_init: no valid key → close 4403 Forbidden (the protocol's code).
// graphql-ws waits for each send to complete, so a dashboard that stops
// reading backs up into its BoundedPubSub queue; when that overflows the
// connection is closed with 4408 and a reason, never blocking anyone else.

export const KEEP_ALIVE_MS = 12_000;
export const CLOSE_SLOW_CONSUMER = 4408;

export function attachWebSocket(server: http.Server, schema: GraphQLSchema, services: Services, log: Logger) {
  const format = formatError(log);
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
      onError: (ctx, _id, _payload, errors) => {
        if (errors.some((e) => e.originalError instanceof SlowConsumerError)) {
          log.warn({ apiKey: ctx.extra.apiKey?.id }, 'live feed subscriber too slow; closing');
          ctx.extra.socket.close(
            CLOSE_SLOW_CONSUMER,
            'Subscriber too slow: reconnect and catch up from the delivery log',
          );
          return;
        }
        // Errors without a code of ours are either the request's fault (no original error) or internal.
        return errors.map((e) => {
          if (e.originalError instanceof HooklineError)
            return { message: e.message, extensions: extensionsOf(e.originalError) };
          const code = e.extensions?.code as string | undefined;
          if (code) return { message: e.message, extensions: { code } };
          return e.originalError
            ? { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }
            : { message: e.message, extensions: { code: 'BAD_USER_INPUT' } };
        });
      },
      // Errors inside a result (a resolver refused or failed) get the contract's codes, as over HTTP.
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors?.length) return;
        return { ...result, errors: result.errors.map((e) => format(e.toJSON(), e)) };
      },
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
