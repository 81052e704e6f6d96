import { z } from 'zod';
import { parseDuration, parseDurationList } from './domain/duration.js';
import { DEFAULT_RETRY_SCHEDULE } from './domain/backoff.js';
import { parseKeyring } from './domain/secret-box.js';
import { ACCOUNT_KEY_PATTERN } from './domain/accounts.js';
import { CIRCUIT_THRESHOLD } from './domain/protection.js';

// All configuration comes from the environment and is checked once at start:
// a bad value stops the process with one line per problem, naming the variable.

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v, ctx) => {
      try {
        return parseDuration(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { message: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

const int = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ message: 'expected a whole number' })
    .int({ message: 'expected a whole number' })
    .min(min, { message: `expected at least ${min}` })
    .max(max, { message: `expected at most ${max}` })
    .default(fallback);

const schema = z.object({
  PORT: int(4000, 0, 65535),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, { message: 'expected a postgres:// or postgresql:// URL' })
    .optional(),
  HOOKLINE_DATA_DIR: z.string().min(1).default('.data'),
  HOOKLINE_EMBEDDED_PG_PORT: int(54329, 1, 65535),
  HOOKLINE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: bool(false),
  HOOKLINE_REQUIRE_HTTPS: bool(false),
  HOOKLINE_DELIVERY_TIMEOUT: duration('15s'),
  HOOKLINE_RETRY_SCHEDULE: z
    .string()
    .default(DEFAULT_RETRY_SCHEDULE)
    .transform((v, ctx) => {
      try {
        return parseDurationList(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  HOOKLINE_DISABLE_AFTER: duration('5d'),
  HOOKLINE_DISABLE_MIN_FAILURES: int(10, 1, 1_000_000),
  HOOKLINE_MAX_PAYLOAD_BYTES: int(256 * 1024, 1024, 16 * 1024 * 1024),
  HOOKLINE_WORKER: bool(true),
  HOOKLINE_WORKER_CONCURRENCY: int(200, 1, 10_000),
  HOOKLINE_PER_WEBHOOK_CONCURRENCY: int(10, 1, 1000),
  HOOKLINE_POLL_INTERVAL: duration('2s'),
  HOOKLINE_SHUTDOWN_TIMEOUT: duration('10s'),
  HOOKLINE_DB_POOL_SIZE: int(10, 2, 200),
  HOOKLINE_SECRET_KEYS: z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      if (v === undefined || v === '') return;
      try {
        parseKeyring(v);
      } catch (e) {
        // The message names key ids and sizes, never key material.
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
  HOOKLINE_AUDIT_RETENTION: duration('365d'),
  HOOKLINE_RETENTION: duration('30d'),
  HOOKLINE_REPLAY_RATE: int(200, 1, 100_000),
  HOOKLINE_CIRCUIT_THRESHOLD: int(CIRCUIT_THRESHOLD, 1, 1000),
  HOOKLINE_PUBLIC_URL: z.url({ message: 'expected an http(s) URL, e.g. https://hookline.example.com' }).optional(),
  HOOKLINE_NOTICES_ACCOUNT: z
    .string()
    .regex(ACCOUNT_KEY_PATTERN, { message: 'expected an account key: 1 to 128 of A-Z a-z 0-9 . _ : -' })
    .optional(),
  HOOKLINE_METRICS: bool(true),
  HOOKLINE_METRICS_TOKEN: z.string().min(16, { message: 'expected at least 16 characters' }).optional(),
  HOOKLINE_WORKER_PORT: int(4001, 0, 65535),
  HOOKLINE_WS_INIT_TIMEOUT: duration('5s'),
  HOOKLINE_WS_KEEPALIVE: duration('12s'),
  HOOKLINE_WS_CONNECTIONS_PER_KEY: int(500, 1, 100_000),
  HOOKLINE_WS_OPERATIONS_PER_CONNECTION: int(50, 1, 10_000),
});

export type Env = z.infer<typeof schema>;

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPgPort: number;
  logLevel: Env['HOOKLINE_LOG_LEVEL'];
  allowPrivateDestinations: boolean;
  /** Refuse http:// destinations (configuration and send time). */
  requireHttps: boolean;
  deliveryTimeoutMs: number;
  retrySchedule: number[];
  disableAfterMs: number;
  disableMinFailures: number;
  maxPayloadBytes: number;
  runWorker: boolean;
  workerConcurrency: number;
  perWebhookConcurrency: number;
  pollIntervalMs: number;
  shutdownTimeoutMs: number;
  dbPoolSize: number;
  /** HOOKLINE_SECRET_KEYS as given; unset: a key generated into dataDir. */
  secretKeys: string | undefined;
  auditRetentionMs: number;
  /** Finished events (with their deliveries and attempts) older than this are pruned. */
  retentionMs: number;
  /** Deliveries released per second by a replay, a retry of failed ones or a resume (spread over time, not one burst). */
  replayRatePerSecond: number;
  /** Failed attempts in a row that open a webhook's circuit. */
  circuitThreshold: number;
  /** The console's address in notices (console_url); unset: http://localhost:PORT. */
  publicUrl: string | undefined;
  /** An account key that receives every account's webhook notices as well. */
  noticesAccount: string | undefined;
  metrics: boolean;
  metricsToken: string | undefined;
  /** `hookline worker` serves /metrics, /healthz and /readyz here. */
  workerPort: number;
  wsInitTimeoutMs: number;
  /** Ping interval; a connection that misses a pong for as long is dropped. */
  wsKeepAliveMs: number;
  wsConnectionsPerKey: number;
  wsOperationsPerConnection: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.HOOKLINE_DATA_DIR,
    embeddedPgPort: e.HOOKLINE_EMBEDDED_PG_PORT,
    logLevel: e.HOOKLINE_LOG_LEVEL,
    allowPrivateDestinations: e.HOOKLINE_ALLOW_PRIVATE_DESTINATIONS,
    requireHttps: e.HOOKLINE_REQUIRE_HTTPS,
    deliveryTimeoutMs: e.HOOKLINE_DELIVERY_TIMEOUT,
    retrySchedule: e.HOOKLINE_RETRY_SCHEDULE,
    disableAfterMs: e.HOOKLINE_DISABLE_AFTER,
    disableMinFailures: e.HOOKLINE_DISABLE_MIN_FAILURES,
    maxPayloadBytes: e.HOOKLINE_MAX_PAYLOAD_BYTES,
    runWorker: e.HOOKLINE_WORKER,
    workerConcurrency: e.HOOKLINE_WORKER_CONCURRENCY,
    perWebhookConcurrency: e.HOOKLINE_PER_WEBHOOK_CONCURRENCY,
    pollIntervalMs: e.HOOKLINE_POLL_INTERVAL,
    shutdownTimeoutMs: e.HOOKLINE_SHUTDOWN_TIMEOUT,
    dbPoolSize: e.HOOKLINE_DB_POOL_SIZE,
    secretKeys: e.HOOKLINE_SECRET_KEYS || undefined,
    auditRetentionMs: e.HOOKLINE_AUDIT_RETENTION,
    retentionMs: e.HOOKLINE_RETENTION,
    replayRatePerSecond: e.HOOKLINE_REPLAY_RATE,
    circuitThreshold: e.HOOKLINE_CIRCUIT_THRESHOLD,
    publicUrl: e.HOOKLINE_PUBLIC_URL,
    noticesAccount: e.HOOKLINE_NOTICES_ACCOUNT,
    metrics: e.HOOKLINE_METRICS,
    metricsToken: e.HOOKLINE_METRICS_TOKEN,
    workerPort: e.HOOKLINE_WORKER_PORT,
    wsInitTimeoutMs: e.HOOKLINE_WS_INIT_TIMEOUT,
    wsKeepAliveMs: e.HOOKLINE_WS_KEEPALIVE,
    wsConnectionsPerKey: e.HOOKLINE_WS_CONNECTIONS_PER_KEY,
    wsOperationsPerConnection: e.HOOKLINE_WS_OPERATIONS_PER_CONNECTION,
  };
}
