import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type http from 'node:http';
import type { Logger } from '../logger.js';
import type { Services } from '../services/index.js';
import { MAX_TOKENS, depthLimitRule, documentProblem, newRequestId, operationProblems } from './admission/index.js';
import { present, type Scope } from './admission/present.js';
import {
  PresentedError,
  bindScope,
  deferred,
  scopeOf,
  scopeOfContext,
  setScope,
  settle,
  unknownScope,
} from './request-scope.js';
import { Redactor, cut, secretsOf } from './admission/redact.js';
import type { Context } from '../graphql/context.js';
import { contextFor } from './auth.js';
import { CONSOLE_PATH, consoleBuilt, consoleRouter } from './console.js';
import { logOperation, outcomeOf } from './oplog.js';
import { healthAnswer, metricsAnswer, readyAnswer, type Answer, type Readiness } from './observe.js';
import type { Metrics } from '../telemetry/metrics.js';
import { catalogOpenApi } from '../domain/openapi.js';
import { VERSION } from '../version.js';
import { parseTraceparent } from '../telemetry/tracing.js';

export interface HttpDeps {
  schema: GraphQLSchema;
  services: Services;
  log: Logger;
  maxBodyBytes: number;
  ready: Readiness;
  metrics: Metrics | null;
  metricsToken: string | undefined;
}

/** The largest request body (HTTP) and WebSocket frame, for a payload limit. */
export function bodyLimit(maxPayloadBytes: number): number {
  return maxPayloadBytes * 2 + 64 * 1024;
}

const cutPath = (url: string) => cut(url.split('?')[0] ?? '', 100);

function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { errors: [{ message, extensions: { code, ...extra } }] };
}

/** The admission path's checks that need the parsed operation: variables and cost (server/admission). */
function admissionPlugin(schema: GraphQLSchema): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        // The parsed document is known from here: its literal secrets join the redactor before validation reports.
        async validationDidStart({ request, document, contextValue }) {
          scopeOfContext(contextValue).redactor = new Redactor(secretsOf(document, request.variables));
        },
        async didResolveOperation({ request, document, operation }) {
          // Apollo has refused a document without a runnable operation before this hook.
          if (!operation) return;
          const problems = operationProblems(schema, document, operation, request.variables ?? {}, 'http');
          const first = problems[0];
          if (first)
            throw new GraphQLError(first.message, { extensions: { ...first.extensions, http: { status: 400 } } });
        },
      };
    },
  };
}

/** A refusal before execution answers HTTP 400, whatever refused it; one log line per operation. */
function responsePlugin(log: Logger): ApolloServerPlugin<Context> {
  return {
    async requestDidStart({ request }) {
      const started = performance.now();
      return {
        async willSendResponse({ response, contextValue, operation, operationName }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const scope = scopeOfContext(contextValue);
          const errors = settle(result.errors, scope, log);
          if (errors) result.errors = errors;
          if (result.errors?.length && result.data === undefined && (response.http.status ?? 200) < 400) {
            response.http.status = 400;
          }
          scope.logged = true;
          logOperation(log, {
            transport: 'http',
            requestId: scope.requestId,
            operation: operationName ?? (typeof request.operationName === 'string' ? request.operationName : null),
            type: operation?.operation ?? 'unknown',
            apiKey: contextValue?.apiKey?.id ?? null,
            ms: performance.now() - started,
            outcome: outcomeOf(result.errors),
            status: response.http.status ?? 200,
          });
        },
      };
    },
  };
}

export async function createHttpApp(server: http.Server, deps: HttpDeps) {
  const { log } = deps;
  const apollo = new ApolloServer<Context>({
    schema: deps.schema,
    logger: log.child({ component: 'apollo' }),
    formatError: (_formatted, error) => deferred(error),
    // Refused outside the pipeline (no plugin saw it): presented here, without the request's id.
    // Written as Apollo's own stringifyResult writes it.
    stringifyResult: (value) => `${JSON.stringify({ ...value, errors: settle(value.errors, unknownScope(), log) })}\n`,
    includeStacktraceInErrorResponses: false,
    // The process drains on SIGTERM itself (server/runtime.ts); Apollo's own
    // handler would stop it concurrently and re-raise the signal mid-drain.
    stopOnTerminationSignals: false,
    // No automatic persisted queries: one more way in, and its hash mismatch answered INTERNAL_SERVER_ERROR.
    persistedQueries: false,
    parseOptions: { maxTokens: MAX_TOKENS },
    // Apollo runs graphql-js's specified rules and these in one pass.
    validationRules: [depthLimitRule()],
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      admissionPlugin(deps.schema),
      responsePlugin(log),
    ],
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  app.use((req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : newRequestId();
    res.setHeader('x-request-id', requestId);
    const started = performance.now();
    const scope: Scope = { requestId, redactor: Redactor.none };
    // A GraphQL operation gets its operation line (server/oplog.ts) instead; anything else a request line.
    res.on('finish', () => {
      if (scope.logged) return;
      log.info(
        {
          requestId,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          ms: Math.round((performance.now() - started) * 10) / 10,
        },
        'request',
      );
    });
    setScope(res, scope);
    next();
  });

  const send = (res: express.Response, a: Answer) => res.status(a.status).type(a.contentType).send(a.body);
  app.get('/healthz', (_req, res) => send(res, healthAnswer()));
  app.get('/readyz', async (_req, res) => send(res, await readyAnswer(deps.ready)));
  app.get('/metrics', async (req, res) =>
    send(res, await metricsAnswer(deps.metrics, deps.metricsToken, req.headers.authorization)),
  );
  // Public, unlike Query.resources: the same for every account, made from the code, holding nobody's data,
  // and read by integrators' tools (generators, docs) that have no key, as peers publish their catalogs.
  const catalog = JSON.stringify(catalogOpenApi(VERSION));
  app.get('/catalog/openapi.json', (_req, res) => res.type('application/json').send(catalog));

  const documentCheck: RequestHandler = (req, res, next) => {
    const body = req.body as { query?: unknown; variables?: unknown } | undefined;
    const query =
      typeof body?.query === 'string' ? body.query : typeof req.query.query === 'string' ? req.query.query : null;
    const scope = scopeOf(res);
    scope.redactor = new Redactor(secretsOf(null, body?.variables));
    const problem = query === null ? null : documentProblem(query);
    if (!problem) return next();
    res.status(400).json({ errors: [present(problem, scope, log)] });
  };
  app.use('/graphql', express.json({ limit: deps.maxBodyBytes }), documentCheck);
  app.use(
    '/graphql',
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const scope = scopeOf(res);
        try {
          const context = await contextFor(deps.services, req.headers.authorization);
          return bindScope({ ...context, traceparent: parseTraceparent(req.headers.traceparent) }, scope);
        } catch (err) {
          throw new PresentedError(present(err, scope, log));
        }
      },
    }),
  );

  if (consoleBuilt()) app.use(CONSOLE_PATH, consoleRouter());

  app.use((req, res) => {
    res
      .status(404)
      .json(errorBody('NOT_FOUND', `nothing at ${req.method} ${cutPath(req.originalUrl)}: the API is POST /graphql`));
  });

  const jsonErrors: ErrorRequestHandler = (err, _req, res, next) => {
    const scope = scopeOf(res);
    if (res.headersSent) return next(err);
    const e = err as { type?: string; status?: number; limit?: number };
    if (e.type === 'entity.too.large') {
      res.status(413).json(errorBody('BAD_USER_INPUT', `request body is larger than ${e.limit} bytes`));
    } else if (e.type === 'entity.parse.failed') {
      res.status(400).json(errorBody('BAD_USER_INPUT', 'request body is not valid JSON'));
    } else if (e.status && e.status >= 400 && e.status < 500) {
      res.status(e.status).json(errorBody('BAD_USER_INPUT', scope.redactor.message((err as Error).message)));
    } else {
      const { requestId } = scope;
      log.error(
        { requestId, err: { type: (err as Error).name, message: (err as Error).message } },
        'unexpected HTTP error',
      );
      res.status(500).json(errorBody('INTERNAL_SERVER_ERROR', 'Internal server error', { requestId }));
    }
  };
  app.use(jsonErrors);
  return { app, apollo };
}
