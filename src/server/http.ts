import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler } from 'express';
import type { GraphQLSchema } from 'graphql';
import type http from 'node:http';
import depthLimit from 'graphql-depth-limit';
import type { Logger } from '../logger.js';
import { createLoaders, type Context } from '../graphql/context.js';
import type { Services } from '../services/index.js';
import { queryCostPlugin } from './complexity.js';
import { errorBody, formatError } from './errors.js';

export const MAX_QUERY_DEPTH = 12;

export interface HttpDeps {
  schema: GraphQLSchema;
  services: Services;
  log: Logger;
  maxBodyBytes: number;
  ready: () => Promise<{ ok: boolean; detail: Record<string, unknown> }>;
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export async function contextFor(services: Services, authorization: string | undefined): Promise<Context> {
  const token = bearerToken(authorization);
  const apiKey = token ? await services.apiKeys.authenticate(token) : null;
  return { apiKey, services, loaders: createLoaders(services.ds) };
}

export async function createHttpApp(server: http.Server, deps: HttpDeps) {
  const apollo = new ApolloServer<Context>({
    schema: deps.schema,
    formatError: formatError(deps.log),
    includeStacktraceInErrorResponses: false,
    // The process drains on SIGTERM itself (server/runtime.ts); Apollo's own
    // handler would stop it concurrently and re-raise the signal mid-drain.
    stopOnTerminationSignals: false,
    validationRules: [depthLimit(MAX_QUERY_DEPTH)],
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer: server }), queryCostPlugin(deps.schema)],
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      deps.log.info(
        { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 },
        'request',
      );
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const r = await deps.ready().catch((e: Error) => ({ ok: false, detail: { error: e.message } }));
    res.status(r.ok ? 200 : 503).json({ status: r.ok ? 'ready' : 'not ready', ...r.detail });
  });

  app.use('/graphql', express.json({ limit: deps.maxBodyBytes }));
  app.use(
    '/graphql',
    expressMiddleware(apollo, {
      context: ({ req }) => contextFor(deps.services, req.headers.authorization),
    }),
  );

  const jsonErrors: ErrorRequestHandler = (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const e = err as { type?: string; status?: number; limit?: number };
    if (e.type === 'entity.too.large') {
      res.status(413).json(errorBody('BAD_USER_INPUT', `request body is larger than ${e.limit} bytes`));
    } else if (e.type === 'entity.parse.failed') {
      res.status(400).json(errorBody('BAD_USER_INPUT', 'request body is not valid JSON'));
    } else if (e.status && e.status >= 400 && e.status < 500) {
      res.status(e.status).json(errorBody('BAD_USER_INPUT', (err as Error).message));
    } else {
      deps.log.error({ err }, 'unexpected HTTP error');
      res.status(500).json(errorBody('INTERNAL_SERVER_ERROR', 'Internal server error'));
    }
  };
  app.use(jsonErrors);
  return { app, apollo };
}
