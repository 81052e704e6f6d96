import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, ObjectType } from 'type-graphql';
import type { EventAction, JsonSchema, ResourceType } from '../../domain/catalog.js';
import { EventActionEnum, ResourceTypeEnum } from './enums.js';

@ObjectType('Resource', {
  description: 'One row of the catalog: a resource, the actions it emits and its payload format.',
})
export class ResourceGql {
  @Field(() => ResourceTypeEnum)
  type: ResourceType;

  @Field()
  name: string;

  @Field(() => [EventActionEnum])
  actions: EventAction[];

  @Field(() => [String], { description: 'Event type strings, e.g. enrollment.completed' })
  eventTypes: string[];

  @Field({ description: "Name of the payload object, e.g. 'User object'" })
  payloadFormat: string;

  @Field(() => GraphQLJSONObject, { description: 'JSON Schema that publishEvent validates the payload against' })
  payloadSchema: JsonSchema;
}
