import { Field, ID, ObjectType } from 'type-graphql';
import type { ApiKeyRole } from '../../domain/roles.js';
import { ApiKeyRoleEnum } from './enums.js';

@ObjectType('ApiKey')
export class ApiKeyGql {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => ApiKeyRoleEnum)
  role: ApiKeyRole;

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: '(rev 2) After this time the key no longer works; null: never expires.',
  })
  expiresAt: Date | null;

  @Field(() => Date, { nullable: true, description: '(rev 2) Last successful use (kept to within a minute).' })
  lastUsedAt: Date | null;
}

@ObjectType('CreatedApiKey', { description: 'Returned once, at creation: the only time the token is shown.' })
export class CreatedApiKeyGql {
  @Field(() => ApiKeyGql)
  apiKey: ApiKeyGql;

  @Field()
  token: string;
}
