import 'reflect-metadata';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse, type GraphQLSchema } from 'graphql';
import { costProblem } from '../../src/server/admission/cost.js';
import { createSchema } from '../../src/graphql/schema.js';

// The cost limit is kept per parsed document: the same document with other
// page sizes or directive conditions must be judged again, not answered from
// what an earlier request cost. (The document is valid: cost runs after validation.)

const PAGED = parse(`query Paged($n: Int, $deep: Boolean!, $id: ID!) {
  webhooks(first: $n) { edges { node { id deliveries(first: $n) @include(if: $deep) { edges { node { attempts { id } } } } } } }
  webhook(id: $id) { id }
}`);

describe('costProblem', () => {
  let schema: GraphQLSchema;
  before(async () => {
    schema = await createSchema();
  });
  const cost = (variables: Record<string, unknown>) => costProblem(schema, PAGED, { id: 'w', ...variables }, 'Paged');

  it('judges the same document again for another page size', () => {
    assert.equal(cost({ n: 5, deep: true }), null);
    assert.match(cost({ n: 100, deep: true })?.message ?? '', /query cost \d+ exceeds the limit of 25000/);
    assert.equal(cost({ n: 5, deep: true }), null, 'a small page after a large one');
  });

  it('judges it again for another directive condition', () => {
    assert.equal(cost({ n: 100, deep: false }), null, 'the nested page is skipped');
    assert.notEqual(cost({ n: 100, deep: true }), null);
  });

  it('variables that cannot change the cost share the answer, and every refusal is an error of its own', () => {
    const a = cost({ n: 100, deep: true, id: 'a' });
    const b = cost({ n: 100, deep: true, id: 'b' });
    assert.ok(a && b && a !== b, 'errors are made per request');
    assert.equal(a.message, b.message);
    assert.equal(a.extensions.code, 'BAD_USER_INPUT');
  });
});
