import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, InputType } from 'type-graphql';
import type { EventAction, ResourceType } from '../../domain/catalog.js';
import type { DeliveryOrdering } from '../../domain/statuses.js';
import { DeliveryOrderingEnum, EventActionEnum, ResourceTypeEnum } from './enums.js';

@InputType('SubscriptionInput')
export class SubscriptionInput {
  @Field(() => ResourceTypeEnum)
  resource: ResourceType;

  @Field(() => EventActionEnum)
  action: EventAction;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: '(rev 2) A filter on the payload, e.g. {"course_id": {"$in": ["c1", "c2"]}, "state": "complete"}.',
  })
  filter?: Record<string, unknown> | null;
}

@InputType('HeaderInput', { description: '(rev 3)' })
export class HeaderInput {
  @Field()
  name: string;

  @Field({
    description:
      'A secret header given with an empty value keeps its stored value (the API never returns it, so an editor cannot send it back).',
  })
  value: string;

  @Field(() => Boolean, { nullable: true, description: 'Sealed at rest like the bearer token and never returned.' })
  secret?: boolean | null;
}

@InputType('CreateWebhookInput')
export class CreateWebhookInput {
  @Field()
  name: string;

  @Field()
  destinationUrl: string;

  @Field(() => String, { nullable: true })
  bearerToken?: string | null;

  @Field(() => String, { nullable: true })
  hmacSecret?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'Generate a Standard Webhooks secret (whsec_…); returned once, in Webhook.generatedHmacSecret of this response.',
  })
  generateHmacSecret?: boolean | null;

  @Field(() => Boolean, {
    nullable: true,
    description: '(rev 2) Also sign with a generated ED25519 key; its public half is Webhook.signingPublicKey.',
  })
  generateSigningKey?: boolean | null;

  @Field(() => [SubscriptionInput], { nullable: true })
  subscriptions?: SubscriptionInput[] | null;

  @Field(() => DeliveryOrderingEnum, { nullable: true, description: '(rev 2) Default NONE.' })
  ordering?: DeliveryOrdering | null;

  @Field(() => ID, {
    nullable: true,
    description: "(rev 3) Omitted: the caller's account for a scoped key, otherwise the default account.",
  })
  accountId?: string | null;

  @Field(() => [HeaderInput], {
    nullable: true,
    description:
      '(rev 3) At most 10; content-type, content-length, host, user-agent, authorization and webhook-* are refused.',
  })
  headers?: HeaderInput[] | null;

  @Field(() => Boolean, { nullable: true, description: '(rev 3) Default false.' })
  sendTraceparent?: boolean | null;

  @Field(() => Int, { nullable: true, description: '(rev 3)' })
  rateLimit?: number | null;

  @Field(() => Int, { nullable: true, description: '(rev 3)' })
  maxInFlight?: number | null;
}

@InputType('UpdateWebhookInput', {
  description: 'Fields left out stay as they are; clearBearerToken / clearHmacSecret remove a secret.',
})
export class UpdateWebhookInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  destinationUrl?: string | null;

  @Field(() => String, { nullable: true })
  bearerToken?: string | null;

  @Field(() => Boolean, { nullable: true })
  clearBearerToken?: boolean | null;

  @Field(() => String, {
    nullable: true,
    description:
      'Replaces the HMAC secret at once, with no overlap (rotateWebhookSecret keeps the previous one signing for a while).',
  })
  hmacSecret?: string | null;

  @Field(() => Boolean, { nullable: true })
  clearHmacSecret?: boolean | null;

  @Field(() => DeliveryOrderingEnum, {
    nullable: true,
    description: '(rev 2) Takes effect for deliveries not yet started.',
  })
  ordering?: DeliveryOrdering | null;

  @Field(() => [HeaderInput], {
    nullable: true,
    description:
      '(rev 3) Replaces the whole list; a change counts as a change of the webhook: a delivery claimed before it is not sent with the old headers.',
  })
  headers?: HeaderInput[] | null;

  @Field(() => Boolean, { nullable: true, description: '(rev 3)' })
  sendTraceparent?: boolean | null;

  @Field(() => Int, { nullable: true, description: '(rev 3) 0 removes the limit.' })
  rateLimit?: number | null;

  @Field(() => Int, { nullable: true, description: "(rev 3) 0 returns to the installation's default." })
  maxInFlight?: number | null;
}

@InputType('PublishEventInput')
export class PublishEventInput {
  @Field(() => ResourceTypeEnum)
  resource: ResourceType;

  @Field(() => EventActionEnum)
  action: EventAction;

  @Field(() => GraphQLJSONObject)
  payload: Record<string, unknown>;

  @Field(() => String, {
    nullable: true,
    description: 'A second publish with the same key returns the first event and sends nothing new.',
  })
  idempotencyKey?: string | null;

  @Field(() => Date, { nullable: true })
  occurredAt?: Date | null;

  @Field(() => String, {
    nullable: true,
    description:
      '(rev 3) The account\'s key. Omitted: the caller\'s account for a scoped key, otherwise "default". A key no account has yet creates that account, named after its key.',
  })
  account?: string | null;
}
