import { lexicographicSortSchema, printSchema as print, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { PubSub } from 'type-graphql';
import { authorize } from './authorization.js';
import { BoundedPubSub } from '../feed/bounded-pubsub.js';
import {
  AccountFields,
  ApiKeyFields,
  AuditEntryFields,
  DeliveryFields,
  EventFields,
  WebhookFields,
  WebhookSubscriptionFields,
} from './resolvers/fields.js';
import { MutationResolver } from './resolvers/mutation.js';
import { QueryResolver } from './resolvers/query.js';
import { SubscriptionResolver } from './resolvers/subscription.js';

// The schema needs a PubSub even when only printed; the server passes the live feed's.
// Authorization is not type-graphql's @Authorized: one table for every field (graphql/authorization.ts).
export async function createSchema(pubSub: PubSub = new BoundedPubSub()): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: [
      QueryResolver,
      MutationResolver,
      SubscriptionResolver,
      WebhookFields,
      WebhookSubscriptionFields,
      EventFields,
      AuditEntryFields,
      DeliveryFields,
      AccountFields,
      ApiKeyFields,
    ],
    validate: false,
    pubSub,
  });
  return authorize(schema);
}

export function printSchema(schema: GraphQLSchema): string {
  return print(lexicographicSortSchema(schema)) + '\n';
}
