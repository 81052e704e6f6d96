import { badInput } from './errors.js';

// Payload filters (delivery contract, "Order and filters"): a JSON object whose
// keys are field paths (dots for nested fields) or the combinators $and, $or,
// $not, and whose values are plain values (equality) or objects of operators.
// A filter is checked and compiled once, when it is saved, into an SQL/JSON
// path predicate that the publishing statement tests with `payload @@ path`:
// publishing stays one statement, and an event that does not match creates no
// delivery.
//
// Every comparison compiles to `exists(P ? (@ op v))` rather than `P op v`:
// in SQL/JSON a comparison of different types (a number field against a string)
// is unknown, not false, and `!unknown` stays unknown, so `$ne: "x"` would not
// match a numeric field. Inside a filter expression an unknown drops the item,
// so exists() says plainly true or false, and negations mean what they say.
// Paths are lax: a field holding an array matches when any element does.

export const MAX_FILTER_BYTES = 4096;
export const MAX_FILTER_LEVELS = 5;

export const FILTER_OPERATORS = ['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists', '$not'] as const;
const COMBINATORS = ['$and', '$or', '$not'] as const;

type Scalar = string | number | boolean | null;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

/** A JSON value as an SQL/JSON path literal (JSON's string escapes are jsonpath's). */
function literal(v: Scalar): string {
  return JSON.stringify(v);
}

/** `a.b.c` as `$."a"."b"."c"`; every segment quoted, so any field name is safe. */
function jsonPath(field: string, at: string): string {
  const segments = field.split('.');
  if (segments.some((s) => s === '')) {
    throw badInput(at, `"${field}" is not a field path: expected names separated by single dots, e.g. "course.id"`);
  }
  return '$' + segments.map((s) => `.${JSON.stringify(s)}`).join('');
}

const describe = (v: unknown) =>
  Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

function scalarOperand(v: unknown, at: string): Scalar {
  if (isScalar(v)) return v;
  throw badInput(at, `expected a string, number, boolean or null, got ${describe(v)}`);
}

function orderedOperand(v: unknown, at: string): string | number {
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
  throw badInput(
    at,
    `expected a number or a string (strings compare in code point order, ISO dates work), got ${describe(v)}`,
  );
}

function listOperand(v: unknown, at: string): Scalar[] {
  if (!Array.isArray(v))
    throw badInput(at, `expected an array of strings, numbers, booleans or null, got ${describe(v)}`);
  return v.map((x, i) => scalarOperand(x, `${at}[${i}]`));
}

const has = (path: string, cond: string) => `exists(${path} ? (${cond}))`;
const anyOf = (path: string, values: Scalar[]) =>
  values.length === 0 ? 'false' : has(path, values.map((v) => `@ == ${literal(v)}`).join(' || '));

/** The operators applied to one field: `{"$gt": 1, "$lt": 5}`, or a plain value (equality). */
function fieldCondition(path: string, value: unknown, at: string, level: number): string {
  if (!isObject(value)) {
    if (Array.isArray(value)) {
      throw badInput(
        at,
        'expected a string, number, boolean or null to compare with; for a list of values use {"$in": [...]}',
      );
    }
    return has(path, `@ == ${literal(scalarOperand(value, at))}`);
  }
  const entries = Object.entries(value);
  if (entries.length === 0) throw badInput(at, 'expected at least one operator, e.g. {"$eq": "value"}');
  const parts = entries.map(([op, operand]) => {
    const here = `${at}.${op}`;
    switch (op) {
      case '$eq':
        return has(path, `@ == ${literal(scalarOperand(operand, here))}`);
      case '$ne':
        return `!(${has(path, `@ == ${literal(scalarOperand(operand, here))}`)})`;
      case '$in':
        return anyOf(path, listOperand(operand, here));
      case '$nin':
        return `!(${anyOf(path, listOperand(operand, here))})`;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': {
        const sign = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[op];
        return has(path, `@ ${sign} ${literal(orderedOperand(operand, here))}`);
      }
      case '$exists':
        if (typeof operand !== 'boolean') throw badInput(here, `expected true or false, got ${describe(operand)}`);
        return operand ? `exists(${path})` : `!(exists(${path}))`;
      case '$not':
        if (level >= MAX_FILTER_LEVELS) throw tooDeep(here);
        return `!(${fieldCondition(path, operand, here, level + 1)})`;
      default:
        throw unknownOperator(op, here, FILTER_OPERATORS);
    }
  });
  return join(parts, '&&');
}

function unknownOperator(op: string, at: string, known: readonly string[]) {
  return badInput(
    at,
    op.startsWith('$')
      ? `unknown operator ${op}; expected one of ${known.join(', ')}`
      : `expected an operator (one of ${known.join(', ')}), got "${op}"; a nested field is written with dots, e.g. "course.id"`,
  );
}

const tooDeep = (at: string) => badInput(at, `is nested more than ${MAX_FILTER_LEVELS} levels deep; flatten it`);

function join(parts: string[], op: '&&' | '||'): string {
  if (parts.length === 1) return parts[0]!;
  return parts.map((p) => `(${p})`).join(` ${op} `);
}

function filterExpression(filter: unknown, at: string, level: number): string {
  if (!isObject(filter)) throw badInput(at, `expected a filter object, got ${describe(filter)}`);
  if (level > MAX_FILTER_LEVELS) throw tooDeep(at);
  const entries = Object.entries(filter);
  if (entries.length === 0) return 'true';
  const parts = entries.map(([key, value]) => {
    const here = `${at}.${key}`;
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) {
        throw badInput(here, `expected a non-empty array of filter objects, got ${describe(value)}`);
      }
      return join(
        value.map((f, i) => filterExpression(f, `${here}[${i}]`, level + 1)),
        key === '$and' ? '&&' : '||',
      );
    }
    if (key === '$not') return `!(${filterExpression(value, here, level + 1)})`;
    if (key.startsWith('$')) throw unknownOperator(key, here, COMBINATORS);
    return fieldCondition(jsonPath(key, here), value, here, level);
  });
  return join(parts, '&&');
}

/**
 * Checks a filter and compiles it to an SQL/JSON path predicate; `at` names the
 * input in errors (e.g. "subscriptions[0].filter"). Throws BAD_USER_INPUT naming
 * the part that is wrong and what was expected.
 */
export function compileFilter(filter: unknown, at: string): string {
  const size = Buffer.byteLength(JSON.stringify(filter) ?? '');
  if (size > MAX_FILTER_BYTES) throw badInput(at, `is ${size} bytes of JSON; the limit is ${MAX_FILTER_BYTES}`);
  return filterExpression(filter, at, 1);
}
