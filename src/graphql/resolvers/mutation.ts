import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { ApiKeyRole } from '../../domain/roles.js';
import type { EventAction, ResourceType } from '../../domain/catalog.js';
import type { Context } from '../context.js';
import { ApiKeyGql, CreatedApiKeyGql } from '../types/api-key.js';
import { DeliveryGql, EventGql } from '../types/delivery.js';
import { ApiKeyRoleEnum, EventActionEnum, ResourceTypeEnum } from '../types/enums.js';
import { CreateWebhookInput, PublishEventInput, SubscriptionInput, UpdateWebhookInput } from '../types/inputs.js';
import { WebhookGql } from '../types/webhook.js';
import { GraphQLInt } from 'graphql';

@Resolver()
export class MutationResolver {
  @Authorized('configure')
  @Mutation(() => WebhookGql)
  async createWebhook(@Ctx() ctx: Context, @Arg('input', () => CreateWebhookInput) input: CreateWebhookInput) {
    const { webhook, generatedSecret } = await ctx.services.webhooks.create(input);
    return Object.assign(webhook, { generatedHmacSecret: generatedSecret });
  }

  @Authorized('configure')
  @Mutation(() => WebhookGql)
  updateWebhook(
    @Ctx() ctx: Context,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateWebhookInput) input: UpdateWebhookInput,
  ) {
    return ctx.services.webhooks.update(id, input);
  }

  @Authorized('configure')
  @Mutation(() => Boolean)
  deleteWebhook(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.webhooks.delete(id);
  }

  @Authorized('configure')
  @Mutation(() => WebhookGql)
  pauseWebhook(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.webhooks.pause(id, `paused by ${ctx.apiKey!.name}`);
  }

  @Authorized('configure')
  @Mutation(() => WebhookGql)
  resumeWebhook(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.webhooks.resume(id);
  }

  @Authorized('configure')
  @Mutation(() => WebhookGql)
  addWebhookSubscriptions(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('subscriptions', () => [SubscriptionInput]) subscriptions: SubscriptionInput[],
  ) {
    return ctx.services.webhooks.addSubscriptions(webhookId, subscriptions);
  }

  @Authorized('configure')
  @Mutation(() => WebhookGql)
  removeWebhookSubscriptions(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('subscriptions', () => [SubscriptionInput]) subscriptions: SubscriptionInput[],
  ) {
    return ctx.services.webhooks.removeSubscriptions(webhookId, subscriptions);
  }

  @Authorized('configure')
  @Mutation(() => DeliveryGql)
  async redeliver(@Ctx() ctx: Context, @Arg('deliveryId', () => ID) deliveryId: string) {
    await ctx.services.events.redeliver(deliveryId);
    return ctx.services.deliveries.delivery(deliveryId);
  }

  @Authorized('configure')
  @Mutation(() => DeliveryGql, {
    description: 'Sends a sample payload (envelope field test: true) to this webhook alone.',
  })
  async sendTestEvent(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('resource', () => ResourceTypeEnum, { nullable: true }) resource?: ResourceType | null,
    @Arg('action', () => EventActionEnum, { nullable: true }) action?: EventAction | null,
  ) {
    await ctx.services.webhooks.getOrFail(webhookId);
    const id = await ctx.services.events.sendTest(webhookId, resource ?? null, action ?? null);
    return ctx.services.deliveries.delivery(id);
  }

  @Authorized('configure')
  @Mutation(() => GraphQLInt, {
    description: 'Queues every FAILED delivery of the webhook created since `since` again; returns how many.',
  })
  async retryFailedDeliveries(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('since', () => Date) since: Date,
  ): Promise<number> {
    await ctx.services.webhooks.getOrFail(webhookId);
    return ctx.services.events.retryFailed(webhookId, since);
  }

  @Authorized('configure')
  @Mutation(() => CreatedApiKeyGql)
  createApiKey(@Ctx() ctx: Context, @Arg('name') name: string, @Arg('role', () => ApiKeyRoleEnum) role: ApiKeyRole) {
    return ctx.services.apiKeys.create(name, role);
  }

  @Authorized('configure')
  @Mutation(() => ApiKeyGql)
  revokeApiKey(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.apiKeys.revoke(id);
  }

  @Authorized('publish')
  @Mutation(() => EventGql)
  async publishEvent(@Ctx() ctx: Context, @Arg('input', () => PublishEventInput) input: PublishEventInput) {
    return ctx.services.events.publish(input);
  }
}
