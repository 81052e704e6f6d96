import { lexicographicSortSchema, printSchema as print, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { PubSub } from 'type-graphql';
import { authChecker } from './auth.js';
import { BoundedPubSub } from '../feed/bounded-pubsub.js';
import {
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
export async function createSchema(pubSub: PubSub = new BoundedPubSub()): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [
      QueryResolver,
      MutationResolver,
      SubscriptionResolver,
      WebhookFields,
      WebhookSubscriptionFields,
      EventFields,
      AuditEntryFields,
      DeliveryFields,
    ],
    authChecker,
    authMode: 'error',
    validate: false,
    pubSub,
  });
}

export function printSchema(schema: GraphQLSchema): string {
  return print(lexicographicSortSchema(schema)) + '\n';
}
