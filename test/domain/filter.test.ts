import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_FILTER_BYTES,
  MAX_FILTER_COMPARISONS,
  MAX_FILTER_COST,
  REACH_FLOOR,
  compileFilter,
  filterCost,
  filterReach,
  filterWeight,
} from '../../src/domain/filter.js';
import { HooklineError } from '../../src/domain/errors.js';
import { freshDatabase, type TestDatabase } from '../kit/index.js';

// Filters are compiled here and evaluated by PostgreSQL, the way the publishing
// statement evaluates them (`payload @@ path`): what matters is what the
// database answers, not the text of the path.

const ENROLLMENT = {
  id: '42',
  user_id: 7,
  course_id: 'c1',
  state: 'complete',
  score: 88.5,
  started_at: '2026-03-01T10:00:00Z',
  tags: ['mandatory', 'safety'],
  course: { id: 'c1', category: { name: 'Compliance' } },
  note: null,
};

describe('payload filters, evaluated by PostgreSQL', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase('filter');
  });
  after(async () => {
    await db.close();
  });

  const matches = async (filter: unknown, payload: unknown = ENROLLMENT): Promise<boolean> => {
    const { path } = compileFilter(filter, 'filter');
    const { rows } = await db.pool.query<{ m: boolean | null }>('SELECT $1::jsonb @@ $2::jsonpath AS m', [
      JSON.stringify(payload),
      path,
    ]);
    assert.equal(typeof rows[0]!.m, 'boolean', `${path} answers true or false`);
    return rows[0]!.m === true;
  };

  const cases: [string, unknown, boolean][] = [
    ['implicit equality (string)', { state: 'complete' }, true],
    ['implicit equality, other value', { state: 'started' }, false],
    ['implicit equality is typed: "7" is not 7', { user_id: '7' }, false],
    ['implicit equality (number)', { user_id: 7 }, true],
    ['implicit equality with null', { note: null }, true],
    ['several fields: all must match', { state: 'complete', course_id: 'c2' }, false],
    ['$eq', { course_id: { $eq: 'c1' } }, true],
    ['$eq, other value', { course_id: { $eq: 'c2' } }, false],
    ['$ne', { course_id: { $ne: 'c2' } }, true],
    ['$ne, same value', { course_id: { $ne: 'c1' } }, false],
    ['$ne across types matches (a number is not a string)', { user_id: { $ne: 'x' } }, true],
    ['$ne on a missing field matches', { missing: { $ne: 'x' } }, true],
    ['$in', { course_id: { $in: ['c0', 'c1'] } }, true],
    ['$in, none', { course_id: { $in: ['c0', 'c2'] } }, false],
    ['$in, empty list', { course_id: { $in: [] } }, false],
    ['$nin', { course_id: { $nin: ['c0', 'c2'] } }, true],
    ['$nin, listed', { course_id: { $nin: ['c1'] } }, false],
    ['$gt', { score: { $gt: 88 } }, true],
    ['$gt, equal', { score: { $gt: 88.5 } }, false],
    ['$gte, equal', { score: { $gte: 88.5 } }, true],
    ['$lt', { score: { $lt: 90 } }, true],
    ['$lt, above', { score: { $lt: 50 } }, false],
    ['$lte, equal', { score: { $lte: 88.5 } }, true],
    ['range: $gte and $lt together', { score: { $gte: 80, $lt: 90 } }, true],
    ['$gt on ISO dates (strings)', { started_at: { $gt: '2026-01-01' } }, true],
    ['$lt on ISO dates (strings)', { started_at: { $lt: '2026-01-01' } }, false],
    ['$gt of a number against a string field does not match', { course_id: { $gt: 5 } }, false],
    ['$exists true', { note: { $exists: true } }, true],
    ['$exists true, missing', { missing: { $exists: true } }, false],
    ['$exists false, missing', { missing: { $exists: false } }, true],
    ['$exists false, present', { state: { $exists: false } }, false],
    ['dotted path', { 'course.category.name': 'Compliance' }, true],
    ['dotted path, other value', { 'course.category.name': 'Sales' }, false],
    ['dotted path through a missing object', { 'course.teacher.name': 'Ann' }, false],
    ['an array field matches when an element does', { tags: 'safety' }, true],
    ['an array field, $in', { tags: { $in: ['x', 'mandatory'] } }, true],
    ['an array field, no element', { tags: 'other' }, false],
    ['$and', { $and: [{ state: 'complete' }, { score: { $gt: 50 } }] }, true],
    ['$and, one fails', { $and: [{ state: 'complete' }, { score: { $gt: 95 } }] }, false],
    ['$or', { $or: [{ state: 'started' }, { course_id: 'c1' }] }, true],
    ['$or, none', { $or: [{ state: 'started' }, { course_id: 'c2' }] }, false],
    ['$not (a filter)', { $not: { state: 'started' } }, true],
    ['$not, matching', { $not: { state: 'complete' } }, false],
    ['$not on a field (operators)', { score: { $not: { $gt: 90 } } }, true],
    ['$not on a field, matching', { score: { $not: { $gt: 80 } } }, false],
    [
      'nested combinators',
      { $or: [{ $and: [{ state: 'complete' }, { $not: { course_id: 'c1' } }] }, { tags: 'safety' }] },
      true,
    ],
    ['the empty filter matches everything', {}, true],
    // Constants inside combinators once printed as `!(false)` or `(true) || …`, which PostgreSQL refuses.
    ['$nin of nothing excludes nothing', { a: { $nin: [] } }, true],
    ['$not of the empty filter matches nothing', { $not: {} }, false],
    ['$or with an empty filter matches everything', { $or: [{}, { a: 1 }] }, true],
    ['$in of nothing with another field matches nothing', { a: { $in: [] }, state: 'complete' }, false],
    ['$and of empty filters matches everything', { $and: [{}, {}] }, true],
    ['$not of $in of nothing on a field', { course_id: { $not: { $in: [] } } }, true],
    ['$not of $or of an empty filter', { $not: { $or: [{}] } }, false],
    ['$in of nothing next to another operator', { score: { $in: [], $gt: 1 } }, false],
    ['$nin of nothing next to another operator', { score: { $nin: [], $gt: 1 } }, true],
    ['$or of a filter that matches nothing and one that matches', { $or: [{ $not: {} }, { state: 'complete' }] }, true],
    ['$in with repeated values', { course_id: { $in: ['c1', 'c1', 'c0', 'c1'] } }, true],
    ['field names with quotes and backslashes are safe', { 'we"ird\\name': 'x' }, false],
    ['string values with quotes', { state: 'a "quoted" \\ value' }, false],
  ];
  for (const [name, filter, expected] of cases) {
    it(`${name} → ${expected ? 'matches' : 'does not match'}`, async () => {
      assert.equal(await matches(filter), expected, JSON.stringify(filter));
    });
  }

  it('quoted names and values compare as written', async () => {
    assert.equal(await matches({ 'we"ird\\name': 'a "q" \\' }, { 'we"ird\\name': 'a "q" \\' }), true);
  });

  it('numbers of every JSON form compare as numbers', async () => {
    assert.equal(await matches({ n: { $gt: 1e21 } }, { n: 2e21 }), true);
    assert.equal(await matches({ n: { $lt: -0.5 } }, { n: -1 }), true);
    assert.equal(await matches({ n: 1e-7 }, { n: 0.0000001 }), true);
  });
});

describe('filters refused when saved', () => {
  const refused = (filter: unknown): HooklineError => {
    try {
      compileFilter(filter, 'subscriptions[0].filter');
    } catch (e) {
      assert.ok(e instanceof HooklineError);
      assert.equal(e.code, 'BAD_USER_INPUT');
      return e;
    }
    assert.fail(`accepted ${JSON.stringify(filter)}`);
  };

  const cases: [string, unknown, RegExp][] = [
    ['not an object', ['a'], /^subscriptions\[0\]\.filter: expected a filter object, got an array/],
    [
      'an unknown operator',
      { score: { $regex: 'x' } },
      /^subscriptions\[0\]\.filter\.score\.\$regex: unknown operator \$regex; expected one of \$eq, \$ne, \$in/,
    ],
    [
      'an unknown combinator',
      { $xor: [] },
      /^subscriptions\[0\]\.filter\.\$xor: unknown operator \$xor; expected one of \$and, \$or, \$not/,
    ],
    [
      'a nested object that is not operators',
      { course: { id: 'c1' } },
      /filter\.course\.id: expected an operator .* written with dots, e.g. "course\.id"/,
    ],
    [
      '$in of a string',
      { course_id: { $in: 'c1' } },
      /filter\.course_id\.\$in: expected an array of strings, numbers, booleans or null, got a string/,
    ],
    [
      '$in of objects',
      { course_id: { $in: [{}] } },
      /filter\.course_id\.\$in\[0\]: expected a string, number, boolean or null, got an object/,
    ],
    ['$gt of a boolean', { score: { $gt: true } }, /filter\.score\.\$gt: expected a number or a string/],
    [
      '$exists of a string',
      { score: { $exists: 'yes' } },
      /filter\.score\.\$exists: expected true or false, got a string/,
    ],
    [
      '$and of an object',
      { $and: { a: 1 } },
      /filter\.\$and: expected a non-empty array of filter objects, got an object/,
    ],
    ['$or empty', { $or: [] }, /filter\.\$or: expected a non-empty array of filter objects/],
    ['$and element not an object', { $and: [1] }, /filter\.\$and\[0\]: expected a filter object, got a number/],
    [
      'an array to compare with',
      { tags: ['a', 'b'] },
      /filter\.tags: expected a string, number, boolean or null to compare with; for a list of values use \{"\$in"/,
    ],
    ['an empty operator object', { score: {} }, /filter\.score: expected at least one operator/],
    ['an empty path segment', { 'course..id': 1 }, /filter\.course\.\.id: "course\.\.id" is not a field path/],
    [
      'more than 5 levels',
      { $or: [{ $or: [{ $or: [{ $or: [{ $or: [{ a: 1 }] }] }] }] }] },
      /filter\.\$or\[0\]\.\$or\[0\]\.\$or\[0\]\.\$or\[0\]\.\$or\[0\]: is nested more than 5 levels deep/,
    ],
  ];
  for (const [name, filter, message] of cases) {
    it(name, () => {
      assert.match(refused(filter).message, message);
    });
  }

  const unstorable: [string, unknown, string, RegExp][] = [
    [
      'a NUL in a field name',
      { 'a\u0000b': 1 },
      'subscriptions[0].filter["a\\u0000b"]',
      /the key must not contain the NUL/,
    ],
    ['a NUL in a value', { a: 'x\u0000' }, 'subscriptions[0].filter.a', /must not contain the NUL character/],
    ['a NUL in an $in value', { a: { $in: ['ok', '\u0000'] } }, 'subscriptions[0].filter.a.$in[1]', /NUL/],
    ['a NUL in an $gt value', { a: { $gt: '\u0000' } }, 'subscriptions[0].filter.a.$gt', /NUL/],
    ['a NUL in an operator', { a: { '$eq\u0000': 1 } }, 'subscriptions[0].filter.a["$eq\\u0000"]', /NUL/],
    [
      'a NUL in a field inside $or',
      { $or: [{ '\u0000': 1 }] },
      'subscriptions[0].filter.$or[0]["\\u0000"]',
      /the key must not contain the NUL/,
    ],
    ['half a surrogate pair in a value', { a: '\ud800' }, 'subscriptions[0].filter.a', /well-formed Unicode/],
    ['half a surrogate pair in a field name', { 'x\udc00': 1 }, 'subscriptions[0].filter["x\\udc00"]', /well-formed/],
  ];
  for (const [name, filter, field, message] of unstorable) {
    it(`${name}: refused, naming where`, () => {
      const e = refused(filter);
      assert.equal(e.field, field);
      assert.match(e.message, message);
    });
  }

  it('a whole surrogate pair (an emoji) is fine', () => {
    assert.doesNotThrow(() => compileFilter({ '😀': '😀' }, 'f'));
  });

  it(`more than ${MAX_FILTER_COMPARISONS} comparisons and path steps`, () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => i);
    assert.equal(filterWeight(compileFilter({ x: { $in: values(999) } }, 'f').terms), 1000);
    assert.match(
      refused({ x: { $in: values(1000) } }).message,
      /^subscriptions\[0\]\.filter: makes 1001 comparisons and path steps .*the limit is 1000/,
    );
    // Each term walks its path: 3 segments cost 3 steps a term.
    const deep = { $or: values(251).map((i) => ({ 'a.b.c': i })) };
    assert.equal(filterWeight(compileFilter({ $or: values(250).map((i) => ({ 'a.b.c': i })) }, 'f').terms), 1000);
    assert.match(refused(deep).message, /makes 1004 comparisons and path steps/);
  });

  it('repeated $in values count once', () => {
    const { terms } = compileFilter({ x: { $in: Array.from({ length: 1500 }, (_, i) => i % 7) } }, 'f');
    assert.deepEqual(terms, [{ field: 'x', path: '$."x"', prefixes: [], terms: 1, comparisons: 7 }]);
  });

  it('5 levels are allowed', () => {
    assert.doesNotThrow(() => compileFilter({ $or: [{ $or: [{ $or: [{ $or: [{ a: 1 }] }] }] }] }, 'f'));
  });

  it(`more than ${MAX_FILTER_BYTES} bytes`, () => {
    const big = { course_id: { $in: Array.from({ length: 600 }, (_, i) => `course-${i}`) } };
    assert.match(refused(big).message, /^subscriptions\[0\]\.filter: is \d+ bytes of JSON; the limit is 4096$/);
  });
});

describe('what a filter costs against a payload', () => {
  it('terms are counted per field: terms walking it, comparisons against each value', () => {
    const { terms } = compileFilter(
      { 'course.id': { $in: ['a', 'b'], $ne: 'c' }, $or: [{ tags: 'x' }, { 'course.id': 'd' }], x: { $exists: true } },
      'f',
    );
    assert.deepEqual(
      terms.sort((a, b) => a.field.localeCompare(b.field)),
      [
        { field: 'course.id', path: '$."course"."id"', prefixes: ['$."course"'], terms: 3, comparisons: 4 },
        { field: 'tags', path: '$."tags"', prefixes: [], terms: 1, comparisons: 1 },
        { field: 'x', path: '$."x"', prefixes: [], terms: 1, comparisons: 1 },
      ],
    );
  });

  it('terms folded away cost nothing', () => {
    assert.deepEqual(compileFilter({ a: { $in: [] }, b: { $in: [1, 2, 3] } }, 'f').terms, []);
  });

  it('the usual payload reaches no field far: no reach, and every filter within the limits is within the cost', () => {
    assert.equal(filterReach(ENROLLMENT), null);
    assert.equal(filterReach({ id: '1', tags: Array(REACH_FLOOR).fill('t') }), null);
    const widest = compileFilter({ x: { $in: Array.from({ length: MAX_FILTER_COMPARISONS - 1 }, (_, i) => i) } }, 'f');
    assert.ok(filterCost(widest.terms, null).cost <= MAX_FILTER_COST);
  });

  it('a field reaches each value, each element of an array value and of arrays inside it (lax mode), an empty array as one', () => {
    const many = (n: number, v: unknown = 1) => Array(n).fill(v);
    assert.deepEqual(filterReach({ x: many(101) }), { '$."x"': 101 });
    assert.deepEqual(filterReach({ x: [many(60), many(60)] }), { '$."x"': 120 });
    // Three levels down is not unwrapped: one value each.
    assert.equal(filterReach({ x: [[many(500)]] }), null);
    assert.deepEqual(filterReach({ x: many(101, []) }), { '$."x"': 101 });
    // Through an array of objects: the objects, then their field.
    assert.deepEqual(filterReach({ items: many(150, { id: 1, tags: ['a', 'b'] }) }), {
      '$."items"': 150,
      '$."items"."id"': 150,
      '$."items"."tags"': 300,
    });
    // A key with a dot is one segment, not a path.
    assert.deepEqual(filterReach({ 'a.b': many(101) }), { '$."a.b"': 101 });
  });

  it('the cost: every term walks from the root through the objects on the way, then compares against each value', () => {
    const reach = filterReach({ items: Array(200).fill({ id: 1 }), x: Array(300).fill(1) });
    const cost = (filter: unknown) => filterCost(compileFilter(filter, 'f').terms, reach);
    assert.equal(cost({ x: { $in: [2, 3, 4] } }).cost, 1 + 3 * 300);
    assert.equal(cost({ 'items.id': 2 }).cost, 1 + 200 + 200);
    // A field the payload lacks, under one it has: the walk visits what the prefix reaches.
    assert.equal(cost({ 'items.nothing': { $in: [1, 2] } }).cost, 1 + 200 + 2 * REACH_FLOOR);
    assert.equal(cost({ 'x.y': 1, state: 'a' }).costliest?.field, 'x.y');
    // The issue's case: a 4 KB $in against 131,000 elements.
    const issue = compileFilter({ x: { $in: Array.from({ length: 2000 }, (_, i) => 2 + (i % 8)) } }, 'f');
    const big = filterCost(issue.terms, filterReach({ id: 'c1', x: Array(131_000).fill(1) }));
    assert.equal(big.cost, 1 + 8 * 131_000);
    assert.ok(big.cost > MAX_FILTER_COST);
  });
});
