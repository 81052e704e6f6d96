import 'reflect-metadata';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  execute,
  extendSchema,
  isInterfaceType,
  isObjectType,
  parse,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { authorizationGaps, authorize } from '../../../src/graphql/authorization.js';
import type { Context } from '../../../src/graphql/context.js';
import { createSchema } from '../../../src/graphql/schema.js';
import { reachablePaths, type FieldPath } from '../../kit/index.js';
import { ROLES } from './walk.js';

// The walk's own premises: the table rules on every field, the walk reaches
// every field, and a field nobody ruled on is refused.

const show = (r: unknown) => JSON.stringify(r);

describe('authorization table', () => {
  let schema: GraphQLSchema;
  let paths: FieldPath[];

  before(async () => {
    schema = await createSchema();
    paths = reachablePaths(schema);
  });

  it('the table covers exactly the fields of the emitted schema', () => {
    assert.deepEqual(authorizationGaps(schema), { unruled: [], stale: [] });
  });

  it('the walk reaches every field of every object type (nothing escapes it)', () => {
    const walked = new Set(paths.flatMap((p) => p.steps));
    const all = Object.values(schema.getTypeMap())
      .filter((t) => !t.name.startsWith('__') && (isObjectType(t) || isInterfaceType(t)))
      .flatMap((t) => Object.keys((t as GraphQLObjectType).getFields()).map((f) => `${t.name}.${f}`));
    assert.ok(all.length > 100, `${all.length} fields`);
    assert.deepEqual(
      all.filter((f) => !walked.has(f)),
      [],
    );
  });

  it('a field added without a rule is refused to every role and reported', async () => {
    // The mechanism, not the table: a schema grown by a field nobody ruled on.
    const grown = authorize(
      extendSchema(schema, parse('extend type ApiKey { unruled: String } extend type Query { unruledRoot: String }')),
    );
    assert.deepEqual(authorizationGaps(grown).unruled, ['ApiKey.unruled', 'Query.unruledRoot']);
    for (const role of ROLES) {
      const contextValue = { apiKey: { id: 'k', name: 'walk', role } } as unknown as Context;
      const run = async (source: string) => execute({ schema: grown, document: parse(source), contextValue });
      const ok = await run('{ viewer { id role } }');
      assert.deepEqual(JSON.parse(show(ok)), { data: { viewer: { id: 'k', role } } });
      for (const [source, field] of [
        ['{ viewer { id unruled } }', 'ApiKey.unruled'],
        ['{ unruledRoot }', 'Query.unruledRoot'],
      ] as const) {
        const r = await run(source);
        assert.equal(r.errors?.length, 1, show(r));
        assert.equal((r.errors![0]!.originalError as { code?: string }).code, 'FORBIDDEN', show(r));
        assert.match(r.errors![0]!.message, new RegExp(`${field} has no authorization rule`));
        assert.ok(r.data == null || Object.values(r.data).every((v) => v === null), show(r));
      }
    }
  });
});
