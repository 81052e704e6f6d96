import { lexicographicSortSchema, printSchema as print, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { PubSub } from 'type-graphql';
import { authChecker } from './auth.js';
import { DeliveryFields, EventFields, WebhookFields, WebhookSubscriptionFields } from './resolvers/fields.js';
import { MutationResolver } from './resolvers/mutation.js';
import { QueryResolver } from './resolvers/query.js';
import { SubscriptionResolver } from './resolvers/subscription.js';

export async function createSchema(pubSub?: PubSub): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [QueryResolver, MutationResolver, SubscriptionResolver, WebhookFields, WebhookSubscriptionFields, EventFields, DeliveryFields],
    authChecker,
    authMode: 'error',
    validate: false,
    pubSub,
  });
}

export function printSchema(schema: GraphQLSchema): string {
  return print(lexicographicSortSchema(schema)) + '\n';
}
