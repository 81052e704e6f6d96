import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { bearerToken } from './auth.js';

// Health, readiness and metrics: on the API port (server/http.ts mounts them)
// and, for `hookline worker`, on a small listener of its own
// (HOOKLINE_WORKER_PORT), so a worker-only process can be watched and probed too.

export type Readiness = () => Promise<{ ok: boolean; detail: Record<string, unknown> }>;

export interface Answer {
  status: number;
  contentType: string;
  body: string;
}

const json = (status: number, value: unknown): Answer => ({
  status,
  contentType: 'application/json; charset=utf-8',
  body: JSON.stringify(value),
});

export function healthAnswer(): Answer {
  return json(200, { status: 'ok' });
}

export async function readyAnswer(ready: Readiness): Promise<Answer> {
  const r = await ready().catch((e: Error) => ({ ok: false, detail: { error: e.message } }));
  return json(r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not ready', ...r.detail });
}

/** Metrics in the Prometheus text format, behind HOOKLINE_METRICS_TOKEN when it is set. */
export async function metricsAnswer(
  metrics: Metrics | null,
  token: string | undefined,
  authorization: string | undefined,
): Promise<Answer> {
  if (!metrics)
    return json(404, {
      errors: [{ message: 'metrics are off (HOOKLINE_METRICS=false)', extensions: { code: 'NOT_FOUND' } }],
    });
  if (token) {
    const given = Buffer.from(bearerToken(authorization) ?? '');
    const wanted = Buffer.from(token);
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
      return json(401, {
        errors: [
          {
            message: 'metrics need "Authorization: Bearer <HOOKLINE_METRICS_TOKEN>"',
            extensions: { code: 'UNAUTHENTICATED' },
          },
        ],
      });
    }
  }
  return { status: 200, contentType: metrics.contentType, body: await metrics.text() };
}

export interface WorkerHttp {
  port: number;
  close(): Promise<void>;
}

export async function startWorkerHttp(opts: {
  host: string;
  port: number;
  metrics: Metrics | null;
  metricsToken: string | undefined;
  ready: Readiness;
  log: Logger;
}): Promise<WorkerHttp> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer =
      req.method !== 'GET'
        ? Promise.resolve(json(405, { errors: [{ message: 'GET only', extensions: { code: 'BAD_USER_INPUT' } }] }))
        : path === '/healthz'
          ? Promise.resolve(healthAnswer())
          : path === '/readyz'
            ? readyAnswer(opts.ready)
            : path === '/metrics'
              ? metricsAnswer(opts.metrics, opts.metricsToken, req.headers.authorization)
              : Promise.resolve(
                  json(404, {
                    errors: [
                      { message: 'this is a worker: /healthz, /readyz, /metrics', extensions: { code: 'NOT_FOUND' } },
                    ],
                  }),
                );
    answer.then(
      (a) => {
        res.writeHead(a.status, { 'content-type': a.contentType });
        res.end(a.body);
      },
      (err: Error) => {
        opts.log.error({ err: err.message }, 'worker listener failed');
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
          }),
        );
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
