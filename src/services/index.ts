import type pg from 'pg';
import type { DataSource } from 'typeorm';
import type { Config } from '../config.js';
import type { Clock } from '../domain/clock.js';
import type { FeedPublisher } from '../feed/feed.js';
import { ApiKeyService } from './api-keys.js';
import { DeliveryQueries } from './deliveries.js';
import { EventService } from './events.js';
import { WebhookService } from './webhooks.js';

export interface Services {
  ds: DataSource;
  apiKeys: ApiKeyService;
  webhooks: WebhookService;
  events: EventService;
  deliveries: DeliveryQueries;
}

export function createServices(
  ds: DataSource,
  pool: pg.Pool,
  config: Config,
  feed: FeedPublisher,
  clock: Clock,
): Services {
  return {
    ds,
    apiKeys: new ApiKeyService(ds),
    webhooks: new WebhookService(ds, feed, {
      allowPrivate: config.allowPrivateDestinations,
      requireHttps: config.requireHttps,
    }),
    events: new EventService(pool, config.maxPayloadBytes, clock),
    deliveries: new DeliveryQueries(ds),
  };
}
