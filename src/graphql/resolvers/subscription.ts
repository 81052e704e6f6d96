import { Arg, Ctx, ID, Resolver, Root, Subscription } from 'type-graphql';
import type { AttemptNotice, WebhookStatusNotice } from '../../feed/feed.js';
import { TOPIC_ATTEMPT, TOPIC_WEBHOOK_STATUS } from '../../feed/live-feed.js';
import type { Context } from '../context.js';
import { DeliveryAttemptGql } from '../types/delivery.js';
import { WebhookGql } from '../types/webhook.js';
import type { Webhook } from '../../storage/entities/index.js';

@Resolver()
export class SubscriptionResolver {
  @Subscription(() => DeliveryAttemptGql, {
    topics: TOPIC_ATTEMPT,
    filter: ({
      payload,
      args,
    }: {
      payload: AttemptNotice;
      args: { webhookId?: string | null; eventId?: string | null };
    }) =>
      (!args.webhookId || payload.webhookId === args.webhookId) && (!args.eventId || payload.eventId === args.eventId),
    description: 'Every delivery attempt as it finishes, from any instance; filters are optional. VIEWER and up.',
  })
  deliveryAttempts(
    @Root() notice: AttemptNotice,
    @Arg('webhookId', () => ID, { nullable: true }) _webhookId?: string | null,
    @Arg('eventId', () => ID, { nullable: true }) _eventId?: string | null,
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
    };
  }

  @Subscription(() => WebhookGql, {
    topics: TOPIC_WEBHOOK_STATUS,
    filter: ({ payload, args }: { payload: WebhookStatusNotice; args: { webhookId?: string | null } }) =>
      !args.webhookId || payload.webhookId === args.webhookId,
    description: 'A webhook paused, resumed, disabled or re-enabled.',
  })
  async webhookStatusChanged(
    @Root() notice: WebhookStatusNotice,
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID, { nullable: true }) _webhookId?: string | null,
  ): Promise<Webhook> {
    // Read fresh, relations included: a subscription's DataLoaders live as long as it does and would go stale.
    const w = await ctx.services.webhooks.withSubscriptions(notice.webhookId);
    if (!w) throw new Error(`webhook ${notice.webhookId} vanished`);
    // The status this notice announces, even if a later change has already landed.
    return Object.assign(w, { status: notice.status, statusReason: notice.reason });
  }
}
