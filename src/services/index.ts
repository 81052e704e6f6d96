import type pg from 'pg';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.js';
import type { Clock } from '../domain/clock.js';
import type { FeedPublisher } from '../feed/feed.js';
import type { Logger } from '../logger.js';
import { AccountDirectory, AccountService } from './accounts.js';
import { ApiKeyService } from './api-keys.js';
import { AuditLog } from './audit.js';
import { DeliveryQueries } from './deliveries.js';
import { ErasureService } from './erasure.js';
import { EventService } from './events.js';
import type { LocalWorker } from './publish-batcher.js';
import { ReplayService } from './replays.js';
import type { SecretVault } from './secrets.js';
import { StatsService } from './stats.js';
import type { Telemetry } from '../telemetry/bus.js';
import { WebhookConfig, WebhookSecrets, WebhookSubscriptions } from './webhooks/index.js';
import type { Tracing } from '../telemetry/tracing.js';

export interface Services {
  clock: Clock;
  accounts: AccountService;
  apiKeys: ApiKeyService;
  webhooks: WebhookConfig;
  webhookSecrets: WebhookSecrets;
  webhookSubscriptions: WebhookSubscriptions;
  events: EventService;
  deliveries: DeliveryQueries;
  replays: ReplayService;
  erasure: ErasureService;
  stats: StatsService;
  audit: AuditLog;
}

export interface ServiceDeps {
  /** For reads only (entities through the ORM): every change is a transaction on the pool (inTransaction). */
  ds: DataSource;
  pool: pg.Pool;
  config: Config;
  feed: FeedPublisher;
  clock: Clock;
  vault: SecretVault;
  telemetry: Telemetry;
  log: Logger;
  /** This process's worker, for the publishing fast path; null when it runs none. */
  worker: LocalWorker | null;
  /** Null when tracing is off (telemetry/tracing.ts). */
  tracing?: Tracing | null;
}

export function createServices({
  ds,
  pool,
  config,
  feed,
  clock,
  vault,
  telemetry,
  log,
  worker,
  tracing = null,
}: ServiceDeps): Services {
  const directory = new AccountDirectory(pool);
  const accounts = new AccountService(ds, pool, directory);
  return {
    clock,
    accounts,
    apiKeys: new ApiKeyService(ds, pool, clock, log),
    webhooks: new WebhookConfig(
      pool,
      ds,
      feed,
      { allowPrivate: config.allowPrivateDestinations, requireHttps: config.requireHttps },
      vault,
      telemetry,
      config.replayRatePerSecond,
    ),
    webhookSecrets: new WebhookSecrets(pool, ds, vault, clock),
    webhookSubscriptions: new WebhookSubscriptions(pool, ds),
    events: new EventService(
      pool,
      config.maxPayloadBytes,
      clock,
      telemetry,
      config.replayRatePerSecond,
      worker,
      directory,
      tracing,
    ),
    deliveries: new DeliveryQueries(ds),
    replays: new ReplayService(pool, clock, {
      retentionMs: config.retentionMs,
      ratePerSecond: config.replayRatePerSecond,
    }),
    erasure: new ErasureService(pool),
    stats: new StatsService(pool),
    audit: new AuditLog(ds),
  };
}
