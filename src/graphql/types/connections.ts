import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { DeliveryGql, EventGql } from './delivery.js';
import { WebhookGql } from './webhook.js';

@ObjectType('PageInfo')
export class PageInfoGql {
  @Field()
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

function edge<T extends object>(name: string, node: ClassType<T>) {
  @ObjectType(name)
  class Edge {
    @Field()
    cursor: string;

    @Field(() => node)
    node: T;
  }
  return Edge;
}

export const WebhookEdge = edge('WebhookEdge', WebhookGql);
export const EventEdge = edge('EventEdge', EventGql);
export const DeliveryEdge = edge('DeliveryEdge', DeliveryGql);

@ObjectType('WebhookConnection')
export class WebhookConnection {
  @Field(() => [WebhookEdge])
  edges: InstanceType<typeof WebhookEdge>[];

  @Field(() => PageInfoGql)
  pageInfo: PageInfoGql;

  @Field(() => Int)
  totalCount: number;
}

@ObjectType('EventConnection')
export class EventConnection {
  @Field(() => [EventEdge])
  edges: InstanceType<typeof EventEdge>[];

  @Field(() => PageInfoGql)
  pageInfo: PageInfoGql;
}

@ObjectType('DeliveryConnection')
export class DeliveryConnection {
  @Field(() => [DeliveryEdge])
  edges: InstanceType<typeof DeliveryEdge>[];

  @Field(() => PageInfoGql)
  pageInfo: PageInfoGql;
}
