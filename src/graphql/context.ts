import DataLoader from 'dataloader';
import type { Scope } from '../domain/accounts.js';
import type {
  Account,
  ApiKey,
  Delivery,
  DeliveryAttempt,
  Event,
  Webhook,
  WebhookSubscription,
} from '../storage/entities/index.js';
import type { Services } from '../services/index.js';
import type { WebhookFigures } from '../services/stats.js';

// Per-request state: who is calling, and batch loaders so that nested fields
// cost one query per level, not one per row.

export interface Loaders {
  account: DataLoader<string, Account | null>;
  apiKey: DataLoader<string, ApiKey | null>;
  webhook: DataLoader<string, Webhook | null>;
  event: DataLoader<string, Event | null>;
  subscriptions: DataLoader<string, WebhookSubscription[]>;
  deliveriesOfEvent: DataLoader<string, Delivery[]>;
  attempts: DataLoader<string, DeliveryAttempt[]>;
  /** Keyed "<hours>:<webhook id>": a page of webhooks' stats in two statements. */
  stats: DataLoader<string, WebhookFigures>;
}

export interface Context {
  apiKey: ApiKey | null;
  /** What the caller sees and changes: its key's account, or every account (domain/accounts.ts). */
  scope: Scope;
  /** Why a key that was sent is refused (e.g. it expired); a missing or unknown key has none. */
  authFailure?: string;
  services: Services;
  loaders: Loaders;
  /** The request's W3C traceparent (parseTraceparent), which a publish continues; absent over WebSocket. */
  traceparent?: string | null;
}

function byId<T extends { id: string }>(rows: T[], ids: readonly string[]): (T | null)[] {
  const map = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => map.get(id) ?? null);
}

function grouped<T>(rows: T[], ids: readonly string[], key: (r: T) => string): T[][] {
  const map = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = map.get(k);
    if (list) list.push(r);
    else map.set(k, [r]);
  }
  return ids.map((id) => map.get(id) ?? []);
}

/** The request's loaders, each bound to the caller's scope: a row of another account loads as null. */
export function createLoaders(services: Services, scope: Scope): Loaders {
  return {
    account: new DataLoader(async (ids) => byId(await services.accounts.byIds(scope, ids), ids)),
    apiKey: new DataLoader(async (ids) => byId(await services.apiKeys.byIds(scope, ids), ids)),
    // Deleted webhooks load too: the delivery log still names them.
    webhook: new DataLoader(async (ids) => byId(await services.webhooks.byIds(scope, ids), ids)),
    event: new DataLoader(async (ids) => byId(await services.deliveries.eventsByIds(scope, ids), ids)),
    subscriptions: new DataLoader(async (ids) =>
      grouped(await services.webhooks.subscriptionsOf(ids), ids, (s) => s.webhookId),
    ),
    deliveriesOfEvent: new DataLoader(async (ids) =>
      grouped(await services.deliveries.ofEvents(scope, ids), ids, (d) => d.eventId),
    ),
    attempts: new DataLoader(async (ids) =>
      grouped(await services.deliveries.attemptsOf(scope, ids), ids, (a) => a.deliveryId),
    ),
    stats: new DataLoader(async (keys) => {
      const byHours = new Map<number, string[]>();
      for (const k of keys) {
        const [hours, id] = k.split(':') as [string, string];
        byHours.set(Number(hours), [...(byHours.get(Number(hours)) ?? []), id]);
      }
      const found = new Map<string, WebhookFigures>();
      for (const [hours, ids] of byHours) {
        const figures = await services.stats.forWebhooks(ids, hours);
        ids.forEach((id, i) => found.set(`${hours}:${id}`, figures[i]!));
      }
      return keys.map((k) => found.get(k)!);
    }),
  };
}
