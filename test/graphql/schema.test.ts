import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, findBreakingChanges, type BreakingChange } from 'graphql';
import { createSchema, printSchema } from '../../src/graphql/schema.js';

// The committed schema.graphql is what the code emits, and the emitted schema
// keeps every promise of the public contract (../shared/api-contract.graphql).

/**
 * Contract changes the emitted schema may break. It must stay EMPTY: the
 * contract is what clients program against; if something here seems needed,
 * change the contract with its owners instead.
 */
const ALLOWED_MISSING: readonly string[] = [];

/** The repository root: the nearest directory above this file whose package.json is hookline's. */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'hookline') return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no hookline package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

function contractPath(root: string): string {
  if (process.env.HOOKLINE_CONTRACT) return path.resolve(process.env.HOOKLINE_CONTRACT);
  // dist/test/graphql/ → ../../../../shared/api-contract.graphql, i.e. <root>/../shared
  return path.resolve(root, '..', 'shared', 'api-contract.graphql');
}

function describeChange(c: BreakingChange): string {
  return `${c.type}: ${c.description}`;
}

describe('GraphQL schema', () => {
  const root = repoRoot();

  it('the committed schema.graphql is what the code emits', async () => {
    const committedPath = path.join(root, 'schema.graphql');
    assert.ok(existsSync(committedPath), `${committedPath} is missing: run npm run schema`);
    const committed = readFileSync(committedPath, 'utf8');
    const emitted = printSchema(await createSchema());
    assert.ok(emitted.includes('type Query'), 'the emitted schema looks empty');
    if (committed !== emitted) {
      assert.equal(committed, emitted, 'schema.graphql is stale: run npm run schema');
    }
  });

  it('the emitted schema has no breaking change against the public contract', async () => {
    const file = contractPath(root);
    assert.ok(existsSync(file), `contract not found at ${file} (set HOOKLINE_CONTRACT to its path)`);
    const contract = buildSchema(readFileSync(file, 'utf8'));
    // Make sure the comparison is not vacuous: the contract was read and has its operations.
    assert.ok(Object.keys(contract.getQueryType()?.getFields() ?? {}).length >= 9, 'contract has no Query fields');
    assert.ok(Object.keys(contract.getMutationType()?.getFields() ?? {}).length >= 12, 'contract has no Mutation fields');

    const emitted = buildSchema(printSchema(await createSchema()));
    const breaking = findBreakingChanges(contract, emitted).map(describeChange);
    const unexpected = breaking.filter((b) => !ALLOWED_MISSING.includes(b));
    assert.deepEqual(unexpected, [], `the emitted schema breaks the contract:\n  ${unexpected.join('\n  ')}`);
  });

  it('ALLOWED_MISSING is empty', () => {
    assert.deepEqual(ALLOWED_MISSING, [], 'ALLOWED_MISSING must stay empty: fix the schema, not the list');
  });

  it('the committed schema also keeps the contract (what clients download)', () => {
    const file = contractPath(root);
    const contract = buildSchema(readFileSync(file, 'utf8'));
    const committed = buildSchema(readFileSync(path.join(root, 'schema.graphql'), 'utf8'));
    const breaking = findBreakingChanges(contract, committed).map(describeChange);
    assert.deepEqual(breaking, []);
  });
});
