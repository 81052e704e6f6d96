import { GraphQLInt } from 'graphql';
import { Arg, Ctx, ID, Int, Mutation, Resolver } from 'type-graphql';
import type { EventAction, ResourceType } from '../../domain/catalog.js';
import type { ApiKeyRole } from '../../domain/roles.js';
import type { ReplayScope } from '../../domain/statuses.js';
import { DEFAULT_OVERLAP_SECONDS, type SignatureScheme } from '../../services/webhooks/index.js';
import { actorOf } from '../auth.js';
import type { Context } from '../context.js';
import { notFound } from '../../domain/errors.js';
import { AccountGql, CreateAccountInput, UpdateAccountInput } from '../types/account.js';
import { ApiKeyGql, CreatedApiKeyGql } from '../types/api-key.js';
import { DeliveryGql, ErasureResultGql, EventGql } from '../types/delivery.js';
import {
  ApiKeyRoleEnum,
  EventActionEnum,
  ReplayScopeEnum,
  ResourceTypeEnum,
  SignatureSchemeEnum,
} from '../types/enums.js';
import { CreateWebhookInput, PublishEventInput, SubscriptionInput, UpdateWebhookInput } from '../types/inputs.js';
import { ReplayResultGql, RotatedWebhookSecretGql, WebhookGql } from '../types/webhook.js';

// Thin: each mutation hands its arguments and its actor (for the audit log) to a service.
@Resolver()
export class MutationResolver {
  @Mutation(() => WebhookGql)
  async createWebhook(@Ctx() ctx: Context, @Arg('input', () => CreateWebhookInput) input: CreateWebhookInput) {
    const { webhook, generatedSecret } = await ctx.services.webhooks.create(ctx.scope, input, actorOf(ctx));
    return Object.assign(webhook, { generatedHmacSecret: generatedSecret });
  }

  @Mutation(() => WebhookGql)
  updateWebhook(
    @Ctx() ctx: Context,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateWebhookInput) input: UpdateWebhookInput,
  ) {
    return ctx.services.webhooks.update(ctx.scope, id, input, actorOf(ctx));
  }

  @Mutation(() => Boolean)
  deleteWebhook(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.webhooks.delete(ctx.scope, id, actorOf(ctx));
  }

  @Mutation(() => WebhookGql)
  pauseWebhook(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.webhooks.pause(ctx.scope, id, `paused by ${ctx.apiKey!.name}`, actorOf(ctx));
  }

  @Mutation(() => WebhookGql)
  resumeWebhook(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.webhooks.resume(ctx.scope, id, actorOf(ctx));
  }

  @Mutation(() => WebhookGql)
  addWebhookSubscriptions(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('subscriptions', () => [SubscriptionInput]) subscriptions: SubscriptionInput[],
  ) {
    return ctx.services.webhookSubscriptions.add(ctx.scope, webhookId, subscriptions, actorOf(ctx));
  }

  @Mutation(() => WebhookGql, {
    description:
      'Sets the whole list: pairs not listed are removed, new ones added, changed filters replaced, all in one transaction (a filter changes without a moment unsubscribed). An empty list removes every subscription.',
  })
  setWebhookSubscriptions(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('subscriptions', () => [SubscriptionInput]) subscriptions: SubscriptionInput[],
  ) {
    return ctx.services.webhookSubscriptions.set(ctx.scope, webhookId, subscriptions, actorOf(ctx));
  }

  @Mutation(() => WebhookGql)
  removeWebhookSubscriptions(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('subscriptions', () => [SubscriptionInput]) subscriptions: SubscriptionInput[],
  ) {
    return ctx.services.webhookSubscriptions.remove(ctx.scope, webhookId, subscriptions, actorOf(ctx));
  }

  @Mutation(() => RotatedWebhookSecretGql, {
    description:
      '(rev 2) Replaces the HMAC secret (scheme HMAC_SHA256, the default) or the ED25519 key with a generated one. The previous one keeps signing alongside for overlapSeconds (default 86400, at most 604800; 0 ends it at once).',
  })
  rotateWebhookSecret(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('scheme', () => SignatureSchemeEnum, { nullable: true }) scheme?: SignatureScheme | null,
    @Arg('overlapSeconds', () => Int, { nullable: true }) overlapSeconds?: number | null,
  ) {
    return ctx.services.webhookSecrets.rotateSecret(
      ctx.scope,
      webhookId,
      scheme ?? 'HMAC_SHA256',
      overlapSeconds ?? DEFAULT_OVERLAP_SECONDS,
      actorOf(ctx),
    );
  }

  @Mutation(() => DeliveryGql)
  async redeliver(@Ctx() ctx: Context, @Arg('deliveryId', () => ID) deliveryId: string) {
    const found = await ctx.services.deliveries.delivery(ctx.scope, deliveryId);
    const webhook = found && (await ctx.loaders.webhook.load(found.webhookId));
    if (!webhook) throw notFound('delivery', deliveryId);
    await ctx.services.events.redeliver(ctx.scope, webhook.accountId, deliveryId, actorOf(ctx));
    return ctx.services.deliveries.delivery(ctx.scope, deliveryId);
  }

  @Mutation(() => DeliveryGql, {
    description: 'Sends a sample payload (envelope field test: true) to this webhook alone.',
  })
  async sendTestEvent(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('resource', () => ResourceTypeEnum, { nullable: true }) resource?: ResourceType | null,
    @Arg('action', () => EventActionEnum, { nullable: true }) action?: EventAction | null,
  ) {
    const webhook = await ctx.services.webhooks.getOrFail(ctx.scope, webhookId);
    const id = await ctx.services.events.sendTest(
      webhook.accountId,
      webhookId,
      resource ?? null,
      action ?? null,
      actorOf(ctx),
    );
    return ctx.services.deliveries.delivery(ctx.scope, id);
  }

  @Mutation(() => GraphQLInt, {
    description: 'Queues every FAILED delivery of the webhook created since `since` again; returns how many.',
  })
  async retryFailedDeliveries(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('since', () => Date) since: Date,
  ): Promise<number> {
    const webhook = await ctx.services.webhooks.getOrFail(ctx.scope, webhookId);
    return ctx.services.events.retryFailed(webhook.accountId, webhookId, since, actorOf(ctx));
  }

  @Mutation(() => ReplayResultGql, {
    description:
      "(rev 2) Sends again the webhook's deliveries of events created in [since, until) (until: default now), chosen by scope (default FAILED). dryRun: count only, change nothing.",
  })
  replayDeliveries(
    @Ctx() ctx: Context,
    @Arg('webhookId', () => ID) webhookId: string,
    @Arg('since', () => Date) since: Date,
    @Arg('until', () => Date, { nullable: true }) until?: Date | null,
    @Arg('scope', () => ReplayScopeEnum, { nullable: true }) scope?: ReplayScope | null,
    @Arg('dryRun', () => Boolean, { nullable: true }) dryRun?: boolean | null,
  ) {
    return ctx.services.replays.replay(ctx.scope, { webhookId, since, until, scope, dryRun }, actorOf(ctx));
  }

  @Mutation(() => CreatedApiKeyGql, {
    description:
      '(rev 2) expiresAt: optional; must be in the future. (rev 3) accountId: a key scoped to that account; a scoped caller may create keys for its own account only.',
  })
  createApiKey(
    @Ctx() ctx: Context,
    @Arg('name') name: string,
    @Arg('role', () => ApiKeyRoleEnum) role: ApiKeyRole,
    @Arg('expiresAt', () => Date, { nullable: true }) expiresAt?: Date | null,
    @Arg('accountId', () => ID, { nullable: true }) accountId?: string | null,
  ) {
    return ctx.services.apiKeys.create(ctx.scope, name, role, expiresAt ?? null, accountId ?? null, actorOf(ctx));
  }

  @Mutation(() => ApiKeyGql)
  revokeApiKey(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return ctx.services.apiKeys.revoke(ctx.scope, id, actorOf(ctx));
  }

  @Mutation(() => AccountGql, { description: '(rev 3) Unscoped SUPPORT only. CONFLICT when the key is taken.' })
  createAccount(@Ctx() ctx: Context, @Arg('input', () => CreateAccountInput) input: CreateAccountInput) {
    return ctx.services.accounts.create(input, actorOf(ctx));
  }

  @Mutation(() => AccountGql, { description: '(rev 3) Unscoped SUPPORT only.' })
  updateAccount(
    @Ctx() ctx: Context,
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateAccountInput) input: UpdateAccountInput,
  ) {
    return ctx.services.accounts.update(id, input, actorOf(ctx));
  }

  @Mutation(() => Boolean, {
    description:
      "(rev 3) Unscoped SUPPORT only; confirmKey must equal the account's key; the default account cannot be deleted. The account, its webhooks, events, deliveries, attempts and scoped keys vanish from every read at once (keys stop working at once); their rows are removed in batches afterwards. Audited.",
  })
  deleteAccount(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('confirmKey') confirmKey: string) {
    return ctx.services.accounts.delete(id, confirmKey, actorOf(ctx));
  }

  @Mutation(() => ErasureResultGql, {
    description:
      '(rev 3) Replaces the payload of every event about the object (resource and payload id) in the account by {id} alone, removes the response bodies of their attempts, and cancels their pending deliveries. accountId: omitted as in createWebhook. dryRun: count only. Audited.',
  })
  eraseObject(
    @Ctx() ctx: Context,
    @Arg('resource', () => ResourceTypeEnum) resource: ResourceType,
    @Arg('objectId') objectId: string,
    @Arg('accountId', () => ID, { nullable: true }) accountId?: string | null,
    @Arg('dryRun', () => Boolean, { nullable: true }) dryRun?: boolean | null,
  ) {
    return ctx.services.erasure.erase(ctx.scope, { resource, objectId, accountId, dryRun }, actorOf(ctx));
  }

  @Mutation(() => EventGql)
  async publishEvent(@Ctx() ctx: Context, @Arg('input', () => PublishEventInput) input: PublishEventInput) {
    return ctx.services.events.publish(ctx.scope, input, ctx.traceparent);
  }

  @Mutation(() => [EventGql], {
    description:
      '(rev 2) Up to 1,000 events in one request, stored in one transaction, results in input order. Any invalid event refuses the whole batch (BAD_USER_INPUT naming inputs[i]) and stores nothing; idempotency keys apply per event.',
  })
  publishEvents(@Ctx() ctx: Context, @Arg('inputs', () => [PublishEventInput]) inputs: PublishEventInput[]) {
    return ctx.services.events.publishMany(ctx.scope, inputs, ctx.traceparent);
  }
}
