import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { Sender } from '../delivery/sender.js';
import { Worker } from '../delivery/worker.js';
import { Maintenance } from '../delivery/maintenance.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { RETRY_JITTER, leaseFor } from '../domain/delivery-policy.js';
import { createSchema } from '../graphql/schema.js';
import { createServices, type Services } from '../services/index.js';
import { openDatabase, type DatabaseHandle } from '../storage/database.js';
import { createDataSource, migrate, pendingMigrations } from '../storage/data-source.js';
import { PgListener } from '../storage/listener.js';
import { createPool } from '../storage/pool.js';
import { checkKeyring, loadKeyring } from '../storage/keyring.js';
import { SecretVault } from '../services/secrets.js';
import { USER_AGENT } from '../version.js';
import { bodyLimit, createHttpApp } from './http.js';
import { LiveFeed } from '../feed/live-feed.js';
import { attachWebSocket } from './websocket.js';
import { CONSOLE_PATH, consoleBuilt } from './console.js';
import { startWorkerHttp, type Readiness } from './observe.js';
import { Signals } from '../telemetry/signals.js';
import { SharedSubscriptions } from '../feed/shared-subscriptions.js';
import { Metrics } from '../telemetry/metrics.js';
import { queueFigures, webhookCounts } from '../storage/sql/metrics.js';
import { KEYS_CHANNEL } from '../storage/sql/api-keys.js';

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
  signals: Signals;
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
  const serveHttp = opts.serveHttp ?? true;
  const clock = opts.clock ?? systemClock;
  const database = await openDatabase(config, (msg) => log.info(msg));
  const ds = createDataSource(database.url, Math.max(2, Math.ceil(config.dbPoolSize / 2)));
  await ds.initialize();
  const keyring = await loadKeyring(config.secretKeys, config.dataDir, log);
  const applied = await migrate(ds, keyring);
  if (applied.length) log.info({ migrations: applied }, 'migrations applied');

  const pool = createPool(database.url, config.dbPoolSize);
  // A missing or wrong key stops the start here, naming the key id, rather than failing deliveries.
  await checkKeyring(pool, keyring);
  const vault = new SecretVault(keyring);
  const listener = new PgListener(database.url, log);
  await listener.start();
  const feed = new LiveFeed(pool, listener, log);
  const signals = new Signals(log);
  const ready: Readiness = async () => {
    await pool.query('SELECT 1');
    const pending = await pendingMigrations(ds);
    return {
      ok: !pending,
      detail: {
        database: 'reachable',
        migrations: pending ? 'pending' : 'applied',
        listener: listener.connected ? 'connected' : 'reconnecting',
      },
    };
  };

  let worker: Worker | null = null;
  let workerPool: ReturnType<typeof createPool> | null = null;
  let sender: Sender | null = null;
  let maintenance: Maintenance | null = null;
  // Workers, here or in any other process, hear of new deliveries through NOTIFY.
  const services = createServices({ ds, pool, config, feed, clock, vault, signals, log });
  if (config.runWorker) {
    sender = new Sender({
      timeoutMs: config.deliveryTimeoutMs,
      urlPolicy: { allowPrivate: config.allowPrivateDestinations, requireHttps: config.requireHttps },
      userAgent: USER_AGENT,
      clock,
    });
    workerPool = createPool(database.url, config.dbPoolSize, { durable: false });
    worker = new Worker(workerPool, listener, sender, feed, vault, signals, log, {
      concurrency: config.workerConcurrency,
      perWebhookConcurrency: config.perWebhookConcurrency,
      pollIntervalMs: config.pollIntervalMs,
      leaseMs: leaseFor(config.deliveryTimeoutMs),
      retry: { schedule: config.retrySchedule, jitter: RETRY_JITTER },
      health: { disableAfterMs: config.disableAfterMs, minFailures: config.disableMinFailures },
      clock,
    });
    worker.start();
    services.events.useWorker(worker);
    maintenance = new Maintenance(pool, signals, log, {
      retentionMs: config.retentionMs,
      auditRetentionMs: config.auditRetentionMs,
      clock,
    });
    maintenance.start();
  }
  const sharedFeed = new SharedSubscriptions();
  const metrics = config.metrics
    ? new Metrics(signals, {
        queue: () => queueFigures(pool),
        webhooks: () => webhookCounts(pool),
        inFlight: () => worker?.inFlight ?? 0,
        feedSubscribers: () => sharedFeed.subscribers,
        feedExecutions: () => sharedFeed.executions,
      })
    : null;

  let url = '';
  let port: number;
  let closeServer = async () => undefined as void;
  if (serveHttp) {
    const schema = await createSchema(feed.pubSub);
    const server = http.createServer();
    const maxBodyBytes = bodyLimit(config.maxPayloadBytes);
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
    // Stop accepting: no new connections, WebSocket clients told 1001, HTTP requests in flight finish.
    closeServer = async () => {
      await ws.close();
      await apollo.stop();
    };
  } else {
    // A worker-only process can be watched and probed too.
    const workerHttp = await startWorkerHttp({
      host: config.host,
      port: config.workerPort,
      metrics,
      metricsToken: config.metricsToken,
      ready,
      log,
    });
    port = workerHttp.port;
    closeServer = () => workerHttp.close();
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
      await closeServer();
      await worker?.stop(config.shutdownTimeoutMs);
      await maintenance?.stop();
      sender?.close();
      await feed.close();
      await listener.stop();
      await workerPool?.end();
      await pool.end();
      await ds.destroy();
      await database.stop();
      log.info('stopped');
    })());

  return { url, consoleUrl, port, services, worker, maintenance, database, signals, stop };
}
