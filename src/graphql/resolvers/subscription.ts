import { Arg, Ctx, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { AttemptNotice, WebhookStatusNotice } from '../../feed/feed.js';
import { TOPIC_ATTEMPT, TOPIC_WEBHOOK_STATUS } from '../../feed/live-feed.js';
import type { Context } from '../context.js';
import { narrowed } from '../../domain/accounts.js';
import { DeliveryAttemptGql } from '../types/delivery.js';
import { WebhookGql } from '../types/webhook.js';
import type { Webhook } from '../../storage/entities/index.js';

/**
 * A notice of `account` reaches the subscriber: its own account for a scoped
 * key, every account (or the one its accountId argument names) otherwise.
 */
function sees(context: Context, accountId: string | null | undefined, account: string): boolean {
  const scope = narrowed(context.scope, accountId);
  return scope.accountId === null || scope.accountId === account;
}

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => DeliveryAttemptGql, {
    topics: TOPIC_ATTEMPT,
    filter: ({
      payload,
      args,
      context,
    }: {
      payload: AttemptNotice;
      args: { webhookId?: string | null; eventId?: string | null; accountId?: string | null };
      context: Context;
    }) =>
      sees(context, args.accountId, payload.accountId) &&
      (!args.webhookId || payload.webhookId === args.webhookId) &&
      (!args.eventId || payload.eventId === args.eventId),
    description: 'Every delivery attempt as it finishes, from any instance; filters are optional. VIEWER and up.',
  })
  deliveryAttempts(
    @Root() notice: AttemptNotice,
    @Arg('webhookId', () => ID, { nullable: true }) _webhookId?: string | null,
    @Arg('eventId', () => ID, { nullable: true }) _eventId?: string | null,
    @Arg('accountId', () => ID, { nullable: true }) _accountId?: string | null,
  ): DeliveryAttemptGql {
    return {
      id: notice.id,
      deliveryId: notice.deliveryId,
      webhookId: notice.webhookId,
      eventId: notice.eventId,
      attemptNumber: notice.attemptNumber,
      outcome: notice.outcome,
      responseStatus: notice.responseStatus,
      // The feed carries summaries; the body is in the delivery log (Delivery.attempts).
      responseBody: null,
      errorMessage: notice.errorMessage,
      durationMs: notice.durationMs,
      startedAt: new Date(notice.startedAt),
      traceId: notice.traceId ?? null,
      // Forensics too: the feed's notices stay small.
      remoteAddress: null,
      responseHeaders: null,
      timings: null,
    };
  }

  @Subscription(() => WebhookGql, {
    topics: TOPIC_WEBHOOK_STATUS,
    filter: ({
      payload,
      args,
      context,
    }: {
      payload: WebhookStatusNotice;
      args: { webhookId?: string | null; accountId?: string | null };
      context: Context;
    }) => sees(context, args.accountId, payload.accountId) && (!args.webhookId || payload.webhookId === args.webhookId),
    description: 'A webhook paused, resumed, disabled or re-enabled.',
  })
  async webhookStatusChanged(
    @Root() notice: WebhookStatusNotice,
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID, { nullable: true }) _webhookId?: string | null,
    @Arg('accountId', () => ID, { nullable: true }) _accountId?: string | null,
  ): Promise<Webhook> {
    // Read fresh, relations included: a subscription's DataLoaders live as long as it does and would go stale.
    const w = await ctx.services.webhooks.withSubscriptions(ctx.scope, notice.webhookId);
    if (!w) throw new Error(`webhook ${notice.webhookId} vanished`);
    // The status this notice announces, even if a later change has already landed.
    return Object.assign(w, { status: notice.status, statusReason: notice.reason });
  }
}
