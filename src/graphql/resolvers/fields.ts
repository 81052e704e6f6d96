import { Arg, Ctx, FieldResolver, Int, Resolver, Root } from 'type-graphql';
import { eventType } from '../../domain/catalog.js';
import type { DeliveryStatus } from '../../domain/statuses.js';
import type { Account, ApiKey, Delivery, Event, Webhook, WebhookSubscription } from '../../storage/entities/index.js';
import { narrowed } from '../../domain/accounts.js';
import { notFound } from '../../domain/errors.js';
import type { WebhookStatus } from '../../domain/statuses.js';
import { AccountGql } from '../types/account.js';
import { WebhookStatusEnum } from '../types/enums.js';
import type { Context } from '../context.js';
import { ApiKeyGql } from '../types/api-key.js';
import { AuditEntryGql } from '../types/audit.js';
import { connection, pageArgs } from '../paging.js';
import { DeliveryConnection, WebhookConnection } from '../types/connections.js';
import { DeliveryAttemptGql, DeliveryGql, EventGql } from '../types/delivery.js';
import { DeliveryStatusEnum } from '../types/enums.js';
import { validHours, type WebhookFigures } from '../../services/stats.js';
import {
  WebhookCircuitGql,
  WebhookGql,
  WebhookHeaderGql,
  WebhookStatsGql,
  WebhookSubscriptionGql,
} from '../types/webhook.js';
import { traceIdOf } from '../../telemetry/tracing.js';

// Nested fields. Lists of rows go through the request's DataLoaders.

@Resolver(() => WebhookGql)
export class WebhookFields {
  @FieldResolver(() => Boolean, {
    description: 'Secrets are write-only: the API says whether one is set, never what it is.',
  })
  hasBearerToken(@Root() w: Webhook): boolean {
    return w.bearerToken !== null;
  }

  @FieldResolver(() => Boolean)
  hasHmacSecret(@Root() w: Webhook): boolean {
    return w.hmacSecret !== null;
  }

  @FieldResolver(() => WebhookCircuitGql, { description: '(rev 3)' })
  circuit(@Root() w: Webhook): WebhookCircuitGql {
    return {
      state: w.circuitState,
      consecutiveFailures: w.consecutiveFailures,
      openedAt: w.circuitOpenedAt,
      nextProbeAt: w.circuitState === 'CLOSED' ? null : w.circuitNextProbeAt,
    };
  }

  @FieldResolver(() => Date, {
    nullable: true,
    description:
      '(rev 2) While a rotation overlaps, deliveries are also signed with the previous secret or key until this time.',
  })
  previousSecretExpiresAt(@Root() w: Webhook, @Ctx() ctx: Context): Date | null {
    return ctx.services.webhookSecrets.previousSecretExpiresAt(w);
  }

  @FieldResolver(() => WebhookStatsGql, {
    description: '(rev 2) Attempts and outcomes over the last `hours` hours (default 24, at most 720).',
  })
  stats(
    @Root() w: Webhook,
    @Ctx() ctx: Context,
    @Arg('hours', () => Int, { nullable: true }) hours?: number | null,
  ): Promise<WebhookFigures> {
    return ctx.loaders.stats.load(`${validHours(hours)}:${w.id}`);
  }

  @FieldResolver(() => [WebhookSubscriptionGql])
  subscriptions(@Root() w: Webhook, @Ctx() ctx: Context): Promise<WebhookSubscription[]> | WebhookSubscription[] {
    return w.subscriptions ?? ctx.loaders.subscriptions.load(w.id);
  }

  @FieldResolver(() => DeliveryConnection)
  async deliveries(
    @Root() w: Webhook,
    @Ctx() ctx: Context,
    @Arg('status', () => DeliveryStatusEnum, { nullable: true }) status?: DeliveryStatus | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<DeliveryConnection> {
    const args = pageArgs('deliveries', first, after);
    const page = await ctx.services.deliveries.deliveries(
      ctx.scope,
      { webhookId: w.id, status },
      args.limit,
      args.after,
    );
    return connection('deliveries', page.items, page.hasNextPage);
  }

  @FieldResolver(() => AccountGql, { description: '(rev 3)' })
  account(@Root() w: Webhook, @Ctx() ctx: Context): Promise<Account> {
    return accountOf(ctx, w.accountId);
  }

  @FieldResolver(() => [WebhookHeaderGql], {
    description: "(rev 3) Extra request headers sent with every delivery; a secret header's value is never returned.",
  })
  headers(@Root() w: Webhook): WebhookHeaderGql[] {
    return (w.headers ?? []).map((h) => ({ name: h.name, value: h.secret ? null : h.value, secret: h.secret }));
  }
}

/** The account of a row the caller has read: visible, since the row was (its scope applied there). */
async function accountOf(ctx: Context, id: string): Promise<Account> {
  const found = await ctx.loaders.account.load(id);
  if (!found) throw notFound('account', id);
  return found;
}

@Resolver(() => AccountGql)
export class AccountFields {
  @FieldResolver(() => WebhookConnection)
  async webhooks(
    @Root() a: Account,
    @Ctx() ctx: Context,
    @Arg('status', () => WebhookStatusEnum, { nullable: true }) status?: WebhookStatus | null,
    @Arg('search', () => String, { nullable: true }) search?: string | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<WebhookConnection> {
    const args = pageArgs('webhooks', first, after);
    const page = await ctx.services.webhooks.page(
      narrowed(ctx.scope, a.id),
      { status, search },
      args.limit,
      args.after,
    );
    return { ...connection('webhooks', page.items, page.hasNextPage), totalCount: page.totalCount };
  }
}

@Resolver(() => ApiKeyGql)
export class ApiKeyFields {
  @FieldResolver(() => AccountGql, {
    nullable: true,
    description: '(rev 3) The only account this key sees and changes; null: every account.',
  })
  account(@Root() k: ApiKey, @Ctx() ctx: Context): Promise<Account> | null {
    return k.accountId ? accountOf(ctx, k.accountId) : null;
  }
}

@Resolver(() => WebhookSubscriptionGql)
export class WebhookSubscriptionFields {
  @FieldResolver(() => String, { description: 'e.g. user.created, enrollment.completed' })
  eventType(@Root() s: WebhookSubscription): string {
    return eventType(s.resource, s.action);
  }
}

@Resolver(() => EventGql)
export class EventFields {
  @FieldResolver(() => String, { description: "(rev 2) The payload's id, as a string: the object the event is about." })
  objectId(@Root() e: Event): string {
    // As (payload ->> 'id') reads it, so that what is shown is what objectId arguments find.
    const id = e.payload.id;
    return typeof id === 'string' ? id : JSON.stringify(id ?? null);
  }

  @FieldResolver(() => [DeliveryGql])
  deliveries(@Root() e: Event, @Ctx() ctx: Context): Promise<Delivery[]> {
    return ctx.loaders.deliveriesOfEvent.load(e.id);
  }

  @FieldResolver(() => AccountGql, { description: '(rev 3)' })
  account(@Root() e: Event, @Ctx() ctx: Context): Promise<Account> {
    return accountOf(ctx, e.accountId);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: "(rev 3) The trace the publisher's traceparent header named, or a new one.",
  })
  traceId(@Root() e: Event): string | null {
    return traceIdOf(e.traceParent);
  }
}

@Resolver(() => DeliveryGql)
export class DeliveryFields {
  @FieldResolver(() => EventGql)
  async event(@Root() d: Delivery, @Ctx() ctx: Context): Promise<Event> {
    return (await ctx.loaders.event.load(d.eventId))!;
  }

  @FieldResolver(() => WebhookGql)
  async webhook(@Root() d: Delivery, @Ctx() ctx: Context): Promise<Webhook> {
    return (await ctx.loaders.webhook.load(d.webhookId))!;
  }

  @FieldResolver(() => [DeliveryAttemptGql])
  attempts(@Root() d: Delivery, @Ctx() ctx: Context) {
    return ctx.loaders.attempts.load(d.id);
  }
}

@Resolver(() => AuditEntryGql)
export class AuditEntryFields {
  @FieldResolver(() => ApiKeyGql, { nullable: true })
  actor(@Root() a: AuditEntryGql, @Ctx() ctx: Context) {
    return a.actorKeyId ? ctx.loaders.apiKey.load(a.actorKeyId) : null;
  }

  @FieldResolver(() => AccountGql, {
    nullable: true,
    description: '(rev 3) The account the target belongs to; null for unscoped API keys.',
  })
  account(@Root() a: AuditEntryGql, @Ctx() ctx: Context): Promise<Account | null> | null {
    // Of a deleted account (its entries wait for the purge): null, like a deleted account's id anywhere.
    return a.accountId ? ctx.loaders.account.load(a.accountId) : null;
  }
}
