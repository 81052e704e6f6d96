import { Arg, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import { CATALOG, eventTypes, type EventAction, type ResourceType } from '../../domain/catalog.js';
import type { DeliveryStatus, WebhookStatus } from '../../domain/statuses.js';
import type { Context } from '../context.js';
import { narrowed } from '../../domain/accounts.js';
import { AccountConnection, AccountGql } from '../types/account.js';
import { connection, pageArgs } from '../paging.js';
import { ApiKeyGql } from '../types/api-key.js';
import { AuditEntryConnection } from '../types/audit.js';
import { DeliveryConnection, EventConnection, WebhookConnection } from '../types/connections.js';
import { DeliveryGql, EventGql } from '../types/delivery.js';
import { DeliveryStatusEnum, EventActionEnum, ResourceTypeEnum, WebhookStatusEnum } from '../types/enums.js';
import { ResourceGql } from '../types/resource.js';
import { WebhookGql } from '../types/webhook.js';

@Resolver()
export class QueryResolver {
  @Query(() => ApiKeyGql, { description: 'Who the caller is.' })
  viewer(@Ctx() ctx: Context): ApiKeyGql {
    return ctx.apiKey!;
  }

  @Query(() => [ResourceGql])
  resources(): ResourceGql[] {
    return CATALOG.map((r) => ({
      type: r.type,
      name: r.name,
      actions: [...r.actions],
      eventTypes: eventTypes(r.type),
      payloadFormat: r.payloadFormat,
      payloadSchema: r.payloadSchema,
    }));
  }

  @Query(() => WebhookConnection)
  async webhooks(
    @Ctx() ctx: Context,
    @Arg('status', () => WebhookStatusEnum, { nullable: true }) status?: WebhookStatus | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('search', () => String, {
      nullable: true,
      description: 'Only webhooks whose name or destination URL contains this text, in any case.',
    })
    search?: string | null,
    @Arg('accountId', () => ID, { nullable: true }) accountId?: string | null,
  ): Promise<WebhookConnection> {
    const args = pageArgs('webhooks', first, after);
    const page = await ctx.services.webhooks.page(
      narrowed(ctx.scope, accountId),
      { status, search },
      args.limit,
      args.after,
    );
    return { ...connection('webhooks', page.items, page.hasNextPage), totalCount: page.totalCount };
  }

  @Query(() => WebhookGql, { nullable: true })
  webhook(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.webhooks.get(ctx.scope, id);
  }

  @Query(() => EventConnection, { description: "(rev 2) objectId: only events about that object (the payload's id)." })
  async events(
    @Ctx() ctx: Context,
    @Arg('resource', () => ResourceTypeEnum, { nullable: true }) resource?: ResourceType | null,
    @Arg('action', () => EventActionEnum, { nullable: true }) action?: EventAction | null,
    @Arg('objectId', () => String, { nullable: true }) objectId?: string | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('accountId', () => ID, { nullable: true }) accountId?: string | null,
  ): Promise<EventConnection> {
    const args = pageArgs('events', first, after);
    const page = await ctx.services.deliveries.events(
      narrowed(ctx.scope, accountId),
      { resource, action, objectId },
      args.limit,
      args.after,
    );
    return connection('events', page.items, page.hasNextPage);
  }

  @Query(() => EventGql, { nullable: true })
  event(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.deliveries.event(ctx.scope, id);
  }

  @Query(() => DeliveryConnection, {
    description:
      '(rev 2) objectId: only deliveries of events about that object. resource and action: only deliveries of events of that type.',
  })
  async deliveries(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID, { nullable: true }) webhookId?: string | null,
    @Arg('eventId', () => ID, { nullable: true }) eventId?: string | null,
    @Arg('status', () => DeliveryStatusEnum, { nullable: true }) status?: DeliveryStatus | null,
    @Arg('objectId', () => String, { nullable: true }) objectId?: string | null,
    @Arg('resource', () => ResourceTypeEnum, { nullable: true }) resource?: ResourceType | null,
    @Arg('action', () => EventActionEnum, { nullable: true }) action?: EventAction | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('accountId', () => ID, { nullable: true }) accountId?: string | null,
  ): Promise<DeliveryConnection> {
    const args = pageArgs('deliveries', first, after);
    const page = await ctx.services.deliveries.deliveries(
      narrowed(ctx.scope, accountId),
      { webhookId, eventId, status, objectId, resource, action },
      args.limit,
      args.after,
    );
    return connection('deliveries', page.items, page.hasNextPage);
  }

  @Query(() => DeliveryGql, { nullable: true })
  delivery(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.deliveries.delivery(ctx.scope, id);
  }

  @Query(() => AuditEntryConnection, { description: '(rev 2) Newest first. SUPPORT only.' })
  async auditLog(
    @Ctx() ctx: Context,
    @Arg('targetId', () => ID, { nullable: true }) targetId?: string | null,
    @Arg('action', () => String, { nullable: true }) action?: string | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('accountId', () => ID, { nullable: true }) accountId?: string | null,
  ): Promise<AuditEntryConnection> {
    const args = pageArgs('audit', first, after);
    const page = await ctx.services.audit.page(
      narrowed(ctx.scope, accountId),
      { targetId, action },
      args.limit,
      args.after,
    );
    return connection('audit', page.items, page.hasNextPage);
  }

  @Query(() => [ApiKeyGql])
  apiKeys(@Ctx() ctx: Context, @Arg('accountId', () => ID, { nullable: true }) accountId?: string | null) {
    return ctx.services.apiKeys.list(narrowed(ctx.scope, accountId));
  }

  @Query(() => AccountConnection, { description: '(rev 3) A scoped key sees only its own account.' })
  async accounts(
    @Ctx() ctx: Context,
    @Arg('search', () => String, { nullable: true }) search?: string | null,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<AccountConnection> {
    const args = pageArgs('accounts', first, after);
    const page = await ctx.services.accounts.page(ctx.scope, search, args.limit, args.after);
    return { ...connection('accounts', page.items, page.hasNextPage), totalCount: page.totalCount };
  }

  @Query(() => AccountGql, {
    nullable: true,
    description: '(rev 3) By id or by key; null when it does not exist or is not visible to the caller.',
  })
  account(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { nullable: true }) id?: string | null,
    @Arg('key', () => String, { nullable: true }) key?: string | null,
  ) {
    return ctx.services.accounts.get(ctx.scope, { id, key });
  }
}
