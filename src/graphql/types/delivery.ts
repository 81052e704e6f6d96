import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import type { EventAction, ResourceType } from '../../domain/catalog.js';
import type { AttemptOutcome } from '../../domain/outcome.js';
import type { DeliveryStatus } from '../../domain/statuses.js';
import type { AttemptTimings } from '../../domain/forensics.js';
import { AttemptOutcomeEnum, DeliveryStatusEnum, EventActionEnum, ResourceTypeEnum } from './enums.js';

@ObjectType('Event')
export class EventGql {
  @Field(() => ID)
  id: string;

  @Field({ description: 'e.g. enrollment.completed' })
  type: string;

  @Field(() => ResourceTypeEnum)
  resource: ResourceType;

  @Field(() => EventActionEnum)
  action: EventAction;

  @Field(() => GraphQLJSONObject)
  payload: Record<string, unknown>;

  @Field()
  occurredAt: Date;

  @Field()
  createdAt: Date;

  @Field(() => String, { nullable: true })
  idempotencyKey: string | null;

  @Field({ description: 'True for events made by sendTestEvent.' })
  isTest: boolean;

  @Field(() => Date, {
    nullable: true,
    description: '(rev 3) Set when eraseObject replaced the payload by {id} alone.',
  })
  erasedAt: Date | null;
}

@ObjectType('ErasureResult', { description: '(rev 3) What eraseObject did (or, with dryRun, would do).' })
export class ErasureResultGql {
  @Field(() => Int, {
    description: 'Events whose payload was replaced by {id} alone, with the response bodies of their attempts removed.',
  })
  events: number;

  @Field(() => Int, { description: 'Their deliveries that were still pending and are now CANCELLED.' })
  deliveriesCancelled: number;

  @Field()
  dryRun: boolean;
}

@ObjectType('Delivery')
export class DeliveryGql {
  @Field(() => ID)
  id: string;

  @Field(() => DeliveryStatusEnum)
  status: DeliveryStatus;

  @Field(() => Int)
  attemptCount: number;

  @Field(() => Date, { nullable: true })
  nextAttemptAt: Date | null;

  @Field(() => Date, { nullable: true })
  lastAttemptAt: Date | null;

  @Field()
  createdAt: Date;

  eventId: string;
  webhookId: string;
}

@ObjectType('DeliveryAttempt')
export class DeliveryAttemptGql {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  deliveryId: string;

  @Field(() => ID)
  webhookId: string;

  @Field(() => ID)
  eventId: string;

  @Field(() => Int, { description: '1 for the first try, counting up across retries and redeliveries' })
  attemptNumber: number;

  @Field(() => AttemptOutcomeEnum)
  outcome: AttemptOutcome;

  @Field(() => Int, { nullable: true })
  responseStatus: number | null;

  @Field(() => String, { nullable: true, description: 'At most the first 4 KiB of the response body' })
  responseBody: string | null;

  @Field(() => String, { nullable: true })
  errorMessage: string | null;

  @Field(() => Int)
  durationMs: number;

  @Field()
  startedAt: Date;

  @Field(() => String, { nullable: true, description: "(rev 3) The trace this attempt's span belongs to." })
  traceId: string | null;

  @Field(() => String, {
    nullable: true,
    description: '(rev 3) The address and port actually connected to (ip:port, an IPv6 address in brackets).',
  })
  remoteAddress: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      '(rev 3) The response\'s headers (names lower-case; set-cookie left out), at most 8 KiB. Headers past the limit are left out whole, and the key "(dropped)" says how many.',
  })
  responseHeaders: Record<string, string | number> | null;

  @Field(() => AttemptTimingsGql, { nullable: true, description: '(rev 3)' })
  timings: AttemptTimings | null;
}

@ObjectType('AttemptTimings', {
  description: "(rev 3) Where an attempt's time went, as the HTTP client measured it.",
})
export class AttemptTimingsGql {
  @Field(() => Int, { nullable: true, description: 'null on a reused connection' })
  dnsMs: number | null;

  @Field(() => Int, { nullable: true, description: 'null on a reused connection' })
  connectMs: number | null;

  @Field(() => Int, { nullable: true, description: 'null without TLS, and on a reused connection' })
  tlsMs: number | null;

  @Field(() => Int, { nullable: true, description: 'From the request sent to the first byte of the answer.' })
  firstByteMs: number | null;

  @Field(() => Int)
  totalMs: number;

  @Field()
  reusedConnection: boolean;
}
