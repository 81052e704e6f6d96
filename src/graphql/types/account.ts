import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { PageInfoGql } from './connections.js';

@ObjectType('Account', { description: '(rev 3) A customer of the platform (in Bridge: one domain).' })
export class AccountGql {
  @Field(() => ID)
  id: string;

  @Field({
    description:
      "The platform's own id for this customer (e.g. its domain id): unique, 1 to 128 characters of A-Z a-z 0-9 . _ : -. Publishers name the account by it.",
  })
  key: string;

  @Field()
  name: string;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;
}

@ObjectType('AccountEdge', { description: '(rev 3)' })
export class AccountEdge {
  @Field()
  cursor: string;

  @Field(() => AccountGql)
  node: AccountGql;
}

@ObjectType('AccountConnection', { description: '(rev 3)' })
export class AccountConnection {
  @Field(() => [AccountEdge])
  edges: AccountEdge[];

  @Field(() => PageInfoGql)
  pageInfo: PageInfoGql;

  @Field(() => Int)
  totalCount: number;
}

@InputType('CreateAccountInput', { description: '(rev 3)' })
export class CreateAccountInput {
  @Field()
  key: string;

  @Field()
  name: string;
}

@InputType('UpdateAccountInput', { description: '(rev 3)' })
export class UpdateAccountInput {
  @Field(() => String, { nullable: true })
  name?: string | null;
}
