import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_FILTER_BYTES, compileFilter } from '../../src/domain/filter.js';
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
    const path = compileFilter(filter, 'filter');
    const { rows } = await db.pool.query<{ m: boolean | null }>('SELECT $1::jsonb @@ $2::jsonpath AS m', [
      JSON.stringify(payload),
      path,
    ]);
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

  it('5 levels are allowed', () => {
    assert.doesNotThrow(() => compileFilter({ $or: [{ $or: [{ $or: [{ $or: [{ a: 1 }] }] }] }] }, 'f'));
  });

  it(`more than ${MAX_FILTER_BYTES} bytes`, () => {
    const big = { course_id: { $in: Array.from({ length: 600 }, (_, i) => `course-${i}`) } };
    assert.match(refused(big).message, /^subscriptions\[0\]\.filter: is \d+ bytes of JSON; the limit is 4096$/);
  });
});
