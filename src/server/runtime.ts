import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { Sender } from '../delivery/sender.js';
import { Notices } from '../services/notices.js';
import { DEFAULT_CIRCUIT } from '../domain/protection.js';
import { Worker } from '../delivery/worker.js';
import { Maintenance } from '../delivery/maintenance.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { RETRY_JITTER, leaseFor } from '../domain/delivery-policy.js';
import { createSchema } from '../graphql/schema.js';
import { createServices, type Services } from '../services/index.js';
import { openDatabase, type DatabaseHandle } from '../storage/database.js';
import { createDataSource, migrate, pendingMigrations } from '../storage/data-source.js';
import { PgListener } from '../storage/listener.js';
import { Lifecycle } from './lifecycle.js';
import { createPool } from '../storage/pool.js';
import { checkKeyring, loadKeyring } from '../storage/keyring.js';
import { SecretVault } from '../services/secrets.js';
import { USER_AGENT } from '../version.js';
import { bodyLimit, createHttpApp } from './http.js';
import { LiveFeed } from '../feed/live-feed.js';
import { attachWebSocket } from './websocket.js';
import { CONSOLE_PATH, consoleBuilt } from './console.js';
import { startWorkerHttp, type Readiness } from './observe.js';
import { Telemetry } from '../telemetry/bus.js';
import { SharedSubscriptions } from '../feed/shared-subscriptions.js';
import { Metrics } from '../telemetry/metrics.js';
import { queueFigures, webhookCounts } from '../storage/sql/metrics.js';
import { KEYS_CHANNEL } from '../storage/sql/channels.js';
import { startTracing, type Tracing } from '../telemetry/tracing.js';

export interface Hookline {
  url: string;
  /** The support console's address (null without HTTP, or when the console is not built). */
  consoleUrl: string | null;
  port: number;
  services: Services;
  worker: Worker | null;
  /** Housekeeping of the worker processes (null without a worker). */
  maintenance: Maintenance | null;
  database: DatabaseHandle;
  /** What the service reports about itself as it works (the metrics listen to it). */
  telemetry: Telemetry;
  stop(): Promise<void>;
}

/** Starts everything one process runs: database (embedded unless DATABASE_URL), migrations, worker, HTTP and WebSocket. */
export interface StartOptions {
  /** false: no HTTP listener (`hookline worker`). */
  serveHttp?: boolean;
  /** Time and randomness for every rule (tests pass a controlled one). */
  clock?: Clock;
}

export async function startHookline(config: Config, log: Logger, opts: StartOptions = {}): Promise<Hookline> {
  const life = new Lifecycle(log);
  try {
    return await startComponents(life, config, log, opts);
  } catch (err) {
    await life.stop();
    throw err;
  }
}

/** Every component in start order; `life` stops them in reverse, at shutdown or when a later one fails to start. */
async function startComponents(life: Lifecycle, config: Config, log: Logger, opts: StartOptions): Promise<Hookline> {
  const serveHttp = opts.serveHttp ?? true;
  const clock = opts.clock ?? systemClock;
  // First started, last stopped: the worker's last attempts are recorded before the spans are flushed.
  const tracing = await life.start(
    'tracing',
    () => startTracing(process.env, log),
    (t) => t?.stop(),
  );
  const database = await life.start(
    'database',
    () => openDatabase(config, (msg) => log.info(msg)),
    (d) => d.stop(),
  );
  const ds = await life.start(
    'configuration store',
    async () => {
      const ds = createDataSource(database.url, Math.max(2, Math.ceil(config.dbPoolSize / 2)));
      await ds.initialize();
      return ds;
    },
    (ds) => ds.destroy(),
  );
  const keyring = await loadKeyring(config.secretKeys, config.dataDir, log);
  const applied = await migrate(ds, keyring);
  if (applied.length) log.info({ migrations: applied }, 'migrations applied');

  const pool = await life.start(
    'pool',
    () => createPool(database.url, config.dbPoolSize),
    (p) => p.end(),
  );
  // A missing or wrong key stops the start here, naming the key id, rather than failing deliveries.
  await checkKeyring(pool, keyring);
  const vault = new SecretVault(keyring);
  const listener = await life.start(
    'listener',
    async () => {
      const l = new PgListener(database.url, log);
      await l.start();
      return l;
    },
    (l) => l.stop(),
  );
  const feed = await life.start(
    'live feed',
    () => new LiveFeed(pool, listener, log),
    (f) => f.close(),
  );
  const telemetry = new Telemetry(log);
  // Workers, here or in any other process, hear of new deliveries through NOTIFY; this
  // process's own also takes what a publish hands it at once (the fast path).
  const notices = new Notices(pool, log, {
    publicUrl: config.publicUrl ?? `http://localhost:${config.port}`,
    noticesAccount: config.noticesAccount ?? null,
    releaseRate: config.replayRatePerSecond,
  });
  const worker = config.runWorker
    ? await startWorker(life, config, log, { database, listener, feed, vault, telemetry, clock, tracing, notices })
    : null;
  const services = createServices({ ds, pool, config, feed, clock, vault, telemetry, log, worker, tracing });
  // Not ready while this instance's worker lacks a key some webhook's secrets are sealed with: its
  // deliveries wait for instances that have it, and a rolling key change has not reached it yet.
  const ready: Readiness = async () => {
    await pool.query('SELECT 1');
    const pending = await pendingMigrations(ds);
    const missingKeys = [...(worker?.missingKeys ?? [])];
    return {
      ok: !pending && missingKeys.length === 0,
      detail: {
        database: 'reachable',
        migrations: pending ? 'pending' : 'applied',
        listener: listener.connected ? 'connected' : 'reconnecting',
        ...(missingKeys.length ? { missingSecretKeys: missingKeys } : {}),
      },
    };
  };
  const maintenance = config.runWorker
    ? await life.start(
        'maintenance',
        () => {
          const m = new Maintenance(pool, telemetry, log, {
            retentionMs: config.retentionMs,
            auditRetentionMs: config.auditRetentionMs,
            clock,
            notices,
          });
          m.start();
          return m;
        },
        (m) => m.stop(),
      )
    : null;
  const sharedFeed = new SharedSubscriptions();
  const metrics = config.metrics
    ? new Metrics(telemetry, {
        queue: () => queueFigures(pool),
        webhooks: () => webhookCounts(pool),
        inFlight: () => worker?.inFlight ?? 0,
        feedSubscribers: () => sharedFeed.subscribers,
        feedExecutions: () => sharedFeed.executions,
      })
    : null;

  let url = '';
  let port: number;
  if (serveHttp) {
    const schema = await createSchema(feed.pubSub);
    const server = http.createServer();
    const maxBodyBytes = bodyLimit(config.maxPayloadBytes);
    // Stopped first: no new connections, WebSocket clients told 1001, HTTP requests in flight finish.
    const { ws } = await life.start(
      'graphql',
      async () => {
        const { app, apollo } = await createHttpApp(server, {
          schema,
          services,
          log,
          maxBodyBytes,
          ready,
          metrics,
          metricsToken: config.metricsToken,
        });
        server.on('request', app);
        const ws = attachWebSocket(
          server,
          schema,
          services,
          log,
          {
            maxPayloadBytes: maxBodyBytes,
            initTimeoutMs: config.wsInitTimeoutMs,
            keepAliveMs: config.wsKeepAliveMs,
            operationsPerConnection: config.wsOperationsPerConnection,
            connectionsPerKey: config.wsConnectionsPerKey,
          },
          sharedFeed,
        );
        return { apollo, ws };
      },
      async ({ apollo, ws }) => {
        await ws.close();
        await apollo.stop();
      },
    );
    // A key revoked anywhere (another instance, the CLI) stops working here within one NOTIFY.
    listener.on(KEYS_CHANNEL, (keyId) => {
      services.apiKeys.forget(keyId);
      const closed = ws.closeKey(keyId, 'API key revoked');
      if (closed) log.info({ apiKey: keyId, connections: closed }, 'closed the connections of a revoked key');
    });
    // Notices sent while the LISTEN connection was down are lost: every key is
    // looked up again, and every open connection's key is read from the database.
    listener.onReconnect(() => {
      services.apiKeys.forgetAll();
      ws.recheckKeys().then(
        (closed) => {
          if (closed)
            log.info({ connections: closed }, 'closed the connections of keys revoked while notices were lost');
        },
        (err: Error) =>
          log.error({ err: err.message }, 'could not check the API keys of open connections again; closed them all'),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    port = (server.address() as AddressInfo).port;
    url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}/graphql`;
  } else {
    // A worker-only process can be watched and probed too.
    const workerHttp = await life.start(
      'worker http',
      () =>
        startWorkerHttp({
          host: config.host,
          port: config.workerPort,
          metrics,
          metricsToken: config.metricsToken,
          ready,
          log,
        }),
      (h) => h.close(),
    );
    port = workerHttp.port;
  }
  const consoleUrl = url && consoleBuilt() ? url.replace(/\/graphql$/, CONSOLE_PATH) : null;
  log.info(
    { url: url || null, console: consoleUrl, port, worker: config.runWorker, embeddedDatabase: database.embedded },
    'hookline started',
  );

  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      log.info('shutting down');
      await life.stop();
      log.info('stopped');
    })());

  return { url, consoleUrl, port, services, worker, maintenance, database, telemetry, stop };
}

interface WorkerDeps {
  database: DatabaseHandle;
  listener: PgListener;
  feed: LiveFeed;
  vault: SecretVault;
  telemetry: Telemetry;
  clock: Clock;
  tracing: Tracing | null;
  notices: Notices;
}

/** The sender, the worker's own pool (not durable: nothing it writes is acknowledged to a caller) and the worker. */
async function startWorker(life: Lifecycle, config: Config, log: Logger, deps: WorkerDeps): Promise<Worker> {
  const sender = await life.start(
    'sender',
    () =>
      new Sender({
        timeoutMs: config.deliveryTimeoutMs,
        urlPolicy: { allowPrivate: config.allowPrivateDestinations, requireHttps: config.requireHttps },
        userAgent: USER_AGENT,
        clock: deps.clock,
      }),
    (s) => s.close(),
  );
  const workerPool = await life.start(
    'worker pool',
    () => createPool(deps.database.url, config.dbPoolSize, { durable: false }),
    (p) => p.end(),
  );
  return life.start(
    'worker',
    () => {
      const w = new Worker(workerPool, deps.listener, sender, deps.feed, deps.vault, deps.telemetry, log, {
        concurrency: config.workerConcurrency,
        perWebhookConcurrency: config.perWebhookConcurrency,
        pollIntervalMs: config.pollIntervalMs,
        leaseMs: leaseFor(config.deliveryTimeoutMs),
        retry: { schedule: config.retrySchedule, jitter: RETRY_JITTER },
        health: { disableAfterMs: config.disableAfterMs, minFailures: config.disableMinFailures },
        clock: deps.clock,
        tracing: deps.tracing,
        circuit: { ...DEFAULT_CIRCUIT, threshold: config.circuitThreshold },
        notices: deps.notices,
      });
      w.start();
      return w;
    },
    (w) => w.stop(config.shutdownTimeoutMs),
  );
}
