import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ID, ObjectType } from 'type-graphql';
import { ApiKeyGql } from './api-key.js';
import { PageInfoGql } from './connections.js';

@ObjectType('AuditEntry', {
  description: '(rev 2) One change of configuration or state, by whom and when. Secret values never appear.',
})
export class AuditEntryGql {
  @Field(() => ID)
  id: string;

  @Field()
  at: Date;

  @Field(() => ApiKeyGql, {
    nullable: true,
    description: 'The key that made the change; null for the command line and for the service itself.',
  })
  actor?: ApiKeyGql | null;

  @Field({
    description:
      "The key's name, 'cli' for the command line, 'hookline' for automatic changes (e.g. a webhook disabled after 410 Gone).",
  })
  actorName: string;

  @Field({
    description:
      'e.g. webhook.created, webhook.updated, webhook.deleted, webhook.paused, webhook.resumed, webhook.disabled, webhook.secret_rotated, webhook.subscriptions_added, webhook.subscriptions_removed, deliveries.replayed, api_key.created, api_key.revoked',
  })
  action: string;

  @Field({ description: 'e.g. Webhook, ApiKey' })
  targetType: string;

  @Field(() => ID, { nullable: true })
  targetId: string | null;

  @Field(() => GraphQLJSONObject, {
    description: 'What changed: for each field, its old and new value; secrets only as "set", "cleared" or "rotated".',
  })
  changes: Record<string, unknown>;

  actorKeyId: string | null;
  accountId: string | null;
}

@ObjectType('AuditEntryEdge')
export class AuditEntryEdge {
  @Field()
  cursor: string;

  @Field(() => AuditEntryGql)
  node: AuditEntryGql;
}

@ObjectType('AuditEntryConnection', { description: '(rev 2)' })
export class AuditEntryConnection {
  @Field(() => [AuditEntryEdge])
  edges: AuditEntryEdge[];

  @Field(() => PageInfoGql)
  pageInfo: PageInfoGql;
}
