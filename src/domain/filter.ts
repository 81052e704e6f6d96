import { badInput } from './errors.js';

// Payload filters (delivery contract, "Order and filters"): a JSON object whose
// keys are field paths (dots for nested fields) or the combinators $and, $or,
// $not, and whose values are plain values (equality) or objects of operators.
// A filter is checked and compiled once, when it is saved, into an SQL/JSON
// path predicate that the publishing statement tests with `payload @@ path`:
// publishing stays one statement, and an event that does not match creates no
// delivery.
//
// The filter is parsed into a small predicate tree, constants folded, and the
// tree printed: every node prints as a jsonpath predicate (a constant as a
// comparison of literals), so no filter the parser accepts can print as a path
// PostgreSQL refuses ({"$not": {}} or {"a": {"$in": []}, "b": 1} once did).
//
// Every comparison compiles to `exists(P ? (@ op v))` rather than `P op v`:
// in SQL/JSON a comparison of different types (a number field against a string)
// is unknown, not false, and `!unknown` stays unknown, so `$ne: "x"` would not
// match a numeric field. Inside a filter expression an unknown drops the item,
// so exists() says plainly true or false, and negations mean what they say.
// Paths are lax: a field holding an array matches when any element does.

export const MAX_FILTER_BYTES = 4096;
export const MAX_FILTER_LEVELS = 5;

// The cost of a filter against one payload, in steps: one step is one
// comparison or one array element or object visited on the way to a field.
// PostgreSQL keeps what each step allocates until the whole `payload @@ path`
// is answered (jsonpath_exec.c frees nothing in between), so memory grows with
// the steps of one evaluation; it is reset for each (event, subscription) pair
// of the publishing statement. Measured on PostgreSQL 15 here (backend VmHWM,
// a fresh connection per query, statement_timeout 5 s), a field of N equal
// numbers against an $in of M values that none of them matches:
//   N × M = 10,000: 1.8 MB, 1.6 ms;  50,000: 5.7 MB, 5.6 ms;
//   100,000: 10.6 MB, 11 ms;         250,000: 24.7 MB, 27 ms
// (about 100 bytes and 0.11 µs a step; the issue's N = 1,000 × M = 2,000 took
// 207 MB, and a 256 KiB payload holds 131,000 elements). Five subscriptions
// of 100,000 steps each peaked at 12.8 MB, not 5 × 10.6: the memory is one
// evaluation's. So one evaluation may take MAX_FILTER_COST steps (~10 MB, ~11 ms);
// time over many subscriptions is bounded by the statement timeout (storage/pool.ts).
export const MAX_FILTER_COST = 100_000;
/**
 * A filter's comparisons and path steps, counted when it is saved (filterWeight):
 * bounded so that against any payload whose fields each reach at most
 * REACH_FLOOR values, the filter costs at most MAX_FILTER_COST without looking.
 */
export const MAX_FILTER_COMPARISONS = 1000;
/** A field reaching more values than this is listed in the payload's reach (filterReach) and priced exactly. */
export const REACH_FLOOR = MAX_FILTER_COST / MAX_FILTER_COMPARISONS;

export const FILTER_OPERATORS = ['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists', '$not'] as const;
const COMBINATORS = ['$and', '$or', '$not'] as const;

type Scalar = string | number | boolean | null;
type Comparison = '==' | '>' | '>=' | '<' | '<=';

/** What a filter means, before it is printed as jsonpath. */
type Predicate =
  | { kind: 'const'; value: boolean }
  /** Some item of the field equals (or orders against) one of the values; never with no values. */
  | { kind: 'test'; field: string[]; op: Comparison; values: Scalar[] }
  | { kind: 'exists'; field: string[] }
  | { kind: 'not'; arg: Predicate }
  /** Two or more arguments, none of them constant. */
  | { kind: 'all' | 'any'; args: Predicate[] };

const TRUE: Predicate = { kind: 'const', value: true };
const FALSE: Predicate = { kind: 'const', value: false };

function not(p: Predicate): Predicate {
  return p.kind === 'const' ? (p.value ? FALSE : TRUE) : { kind: 'not', arg: p };
}

/** all (or any) of the predicates, constants folded: the neutral one dropped, the absorbing one wins. */
function combine(kind: 'all' | 'any', parts: Predicate[]): Predicate {
  const absorbing = kind === 'any';
  const args: Predicate[] = [];
  for (const p of parts) {
    if (p.kind === 'const') {
      if (p.value === absorbing) return p;
    } else if (p.kind === kind) args.push(...p.args);
    else args.push(p);
  }
  if (args.length === 0) return absorbing ? FALSE : TRUE;
  return args.length === 1 ? args[0]! : { kind, args };
}

function test(field: string[], op: Comparison, values: Scalar[]): Predicate {
  const distinct = [...new Map(values.map((v) => [JSON.stringify(v), v])).values()];
  return distinct.length === 0 ? FALSE : { kind: 'test', field, op, values: distinct };
}

/** A JSON value as an SQL/JSON path literal (JSON's string escapes are jsonpath's). */
function literal(v: Scalar): string {
  return JSON.stringify(v);
}

/** Field segments as `$."a"."b"`; every segment quoted, so any field name is safe. The key of filterReach too. */
const jsonPath = (segments: readonly string[]) => '$' + segments.map((s) => `.${JSON.stringify(s)}`).join('');

function print(p: Predicate): string {
  switch (p.kind) {
    case 'const':
      return p.value ? '1 == 1' : '1 == 0';
    case 'test':
      return `exists(${jsonPath(p.field)} ? (${p.values.map((v) => `@ ${p.op} ${literal(v)}`).join(' || ')}))`;
    case 'exists':
      return `exists(${jsonPath(p.field)})`;
    case 'not':
      return `!(${print(p.arg)})`;
    case 'all':
    case 'any':
      return p.args.map((a) => `(${print(a)})`).join(p.kind === 'all' ? ' && ' : ' || ');
  }
}

/**
 * What a filter costs on one field, stored with the subscription
 * (webhook_subscriptions.filter_terms) so the publishing statement can price
 * the filter against a payload's reach without evaluating it: each term
 * (`exists(path ? (...))`) walks the path from the root, then makes its
 * comparisons against every value the field reaches.
 */
export interface FilterTerm {
  /** The field as written in the filter, e.g. "course.id". */
  field: string;
  /** Its jsonpath, the key of filterReach. */
  path: string;
  /** The paths of the objects on the way, e.g. ['$."course"']: walked by every term. */
  prefixes: string[];
  /** Terms testing this field. */
  terms: number;
  /** Comparisons those terms make against each value (an $in of 5 values makes 5). */
  comparisons: number;
}

function costTerms(p: Predicate): FilterTerm[] {
  const byPath = new Map<string, FilterTerm>();
  const visit = (q: Predicate): void => {
    switch (q.kind) {
      case 'const':
        return;
      case 'not':
        return visit(q.arg);
      case 'all':
      case 'any':
        return q.args.forEach(visit);
      case 'test':
      case 'exists': {
        const path = jsonPath(q.field);
        let term = byPath.get(path);
        if (!term) {
          const prefixes = q.field.slice(0, -1).map((_, i) => jsonPath(q.field.slice(0, i + 1)));
          term = { field: q.field.join('.'), path, prefixes, terms: 0, comparisons: 0 };
          byPath.set(path, term);
        }
        term.terms += 1;
        term.comparisons += q.kind === 'test' ? q.values.length : 1;
      }
    }
  };
  visit(p);
  return [...byPath.values()];
}

/** Comparisons and path steps: what the filter costs against fields that each reach one value. */
export function filterWeight(terms: readonly FilterTerm[]): number {
  return terms.reduce((n, t) => n + t.terms * (t.prefixes.length + 1) + t.comparisons, 0);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

const describe = (v: unknown) =>
  Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/**
 * Neither jsonb (the filter is stored as given) nor a jsonpath string holds a
 * NUL or half a surrogate pair: such text is refused, where it is, rather than
 * failing in the database.
 */
function storable(s: string): string | null {
  if (s.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (LONE_SURROGATE.test(s)) return 'must be well-formed Unicode (it holds half of a surrogate pair)';
  return null;
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storableText<T extends Scalar>(v: T, at: string): T {
  const problem = typeof v === 'string' ? storable(v) : null;
  if (problem) throw badInput(at, problem);
  return v;
}

/** `at` extended by a key; a key that cannot be stored is named in JSON quotes, escapes shown. */
function keyAt(at: string, key: string): string {
  const problem = storable(key);
  if (problem) throw badInput(`${at}[${JSON.stringify(key)}]`, `the key ${problem}`);
  return `${at}.${key}`;
}

function fieldPath(field: string, at: string): string[] {
  const segments = field.split('.');
  if (segments.some((s) => s === '')) {
    throw badInput(at, `"${field}" is not a field path: expected names separated by single dots, e.g. "course.id"`);
  }
  return segments;
}

function scalarOperand(v: unknown, at: string): Scalar {
  if (isScalar(v)) return storableText(v, at);
  throw badInput(at, `expected a string, number, boolean or null, got ${describe(v)}`);
}

function orderedOperand(v: unknown, at: string): string | number {
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return storableText(v, at);
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

const ORDER: Record<string, Comparison> = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' };

/** The operators applied to one field: `{"$gt": 1, "$lt": 5}`, or a plain value (equality). */
function fieldCondition(field: string[], value: unknown, at: string, level: number): Predicate {
  if (!isObject(value)) {
    if (Array.isArray(value)) {
      throw badInput(
        at,
        'expected a string, number, boolean or null to compare with; for a list of values use {"$in": [...]}',
      );
    }
    return test(field, '==', [scalarOperand(value, at)]);
  }
  const entries = Object.entries(value);
  if (entries.length === 0) throw badInput(at, 'expected at least one operator, e.g. {"$eq": "value"}');
  const parts = entries.map(([op, operand]): Predicate => {
    const here = keyAt(at, op);
    switch (op) {
      case '$eq':
        return test(field, '==', [scalarOperand(operand, here)]);
      case '$ne':
        return not(test(field, '==', [scalarOperand(operand, here)]));
      case '$in':
        return test(field, '==', listOperand(operand, here));
      case '$nin':
        return not(test(field, '==', listOperand(operand, here)));
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte':
        return test(field, ORDER[op]!, [orderedOperand(operand, here)]);
      case '$exists':
        if (typeof operand !== 'boolean') throw badInput(here, `expected true or false, got ${describe(operand)}`);
        return operand ? { kind: 'exists', field } : not({ kind: 'exists', field });
      case '$not':
        if (level >= MAX_FILTER_LEVELS) throw tooDeep(here);
        return not(fieldCondition(field, operand, here, level + 1));
      default:
        throw unknownOperator(op, here, FILTER_OPERATORS);
    }
  });
  return combine('all', parts);
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

function filterExpression(filter: unknown, at: string, level: number): Predicate {
  if (!isObject(filter)) throw badInput(at, `expected a filter object, got ${describe(filter)}`);
  if (level > MAX_FILTER_LEVELS) throw tooDeep(at);
  const parts = Object.entries(filter).map(([key, value]): Predicate => {
    const here = keyAt(at, key);
    if (key === '$and' || key === '$or') {
      if (!Array.isArray(value) || value.length === 0) {
        throw badInput(here, `expected a non-empty array of filter objects, got ${describe(value)}`);
      }
      return combine(
        key === '$and' ? 'all' : 'any',
        value.map((f, i) => filterExpression(f, `${here}[${i}]`, level + 1)),
      );
    }
    if (key === '$not') return not(filterExpression(value, here, level + 1));
    if (key.startsWith('$')) throw unknownOperator(key, here, COMBINATORS);
    return fieldCondition(fieldPath(key, here), value, here, level);
  });
  return combine('all', parts);
}

export interface CompiledFilter {
  /** The SQL/JSON path predicate the publishing statement tests (`payload @@ path`). */
  path: string;
  /** Its cost per field (FilterTerm), stored with it. */
  terms: FilterTerm[];
}

/**
 * Checks a filter and compiles it; `at` names the input in errors (e.g.
 * "subscriptions[0].filter"). Throws BAD_USER_INPUT naming the part that is
 * wrong and what was expected. `limits: false` skips the size and weight
 * limits, for filters saved before the weight was counted (migrations).
 */
export function compileFilter(filter: unknown, at: string, opts: { limits?: boolean } = {}): CompiledFilter {
  const limits = opts.limits ?? true;
  const size = Buffer.byteLength(JSON.stringify(filter) ?? '');
  if (limits && size > MAX_FILTER_BYTES) {
    throw badInput(at, `is ${size} bytes of JSON; the limit is ${MAX_FILTER_BYTES}`);
  }
  const predicate = filterExpression(filter, at, 1);
  const terms = costTerms(predicate);
  const weight = filterWeight(terms);
  if (limits && weight > MAX_FILTER_COMPARISONS) {
    throw badInput(
      at,
      `makes ${weight} comparisons and path steps (each value of an $in is one comparison; each condition walks its field's path, one step a segment); the limit is ${MAX_FILTER_COMPARISONS}: shorten the lists or split the conditions`,
    );
  }
  return { path: print(predicate), terms };
}

/**
 * How many values each field of a payload reaches, as the lax jsonpath of a
 * filter term walks it, for the fields that reach more than REACH_FLOOR:
 * `{'$."tags"': 5000}`; null when none does (the usual payload), and then no
 * filter within MAX_FILTER_COMPARISONS can cost more than MAX_FILTER_COST.
 * A field's reach counts what a term on it compares: each value, each element
 * of an array value, each element of an array inside it (lax mode unwraps two
 * levels: the filter, then the comparison), an empty array as one. It bounds
 * the walk past the field too: a step from it visits at most that many. Linear
 * in the payload; stored with the event (events.filter_reach).
 */
export function filterReach(payload: unknown): Record<string, number> | null {
  const reach: Record<string, number> = {};
  let listed = false;
  const walk = (path: string, items: unknown[]) => {
    let values = 0;
    const children = new Map<string, unknown[]>();
    for (const item of items) {
      for (const v of Array.isArray(item) ? item : [item]) {
        values += Array.isArray(v) ? Math.max(1, v.length) : 1;
        if (!isObject(v)) continue;
        for (const [k, child] of Object.entries(v)) {
          const list = children.get(k);
          if (list) list.push(child);
          else children.set(k, [child]);
        }
      }
    }
    if (path !== '$' && values > REACH_FLOOR) {
      reach[path] = values;
      listed = true;
    }
    for (const [k, list] of children) walk(`${path}.${JSON.stringify(k)}`, list);
  };
  walk('$', [payload]);
  return listed ? reach : null;
}

/**
 * The cost of a filter against a payload, in steps, with the field that costs
 * most; the publishing statement computes the same sum (storage/sql/events.ts)
 * and refuses the publish above MAX_FILTER_COST. Per field: every term walks
 * from the root (1) through each object on the way (the values it reaches),
 * and makes its comparisons against each value the field reaches; a path not
 * in the reach reaches at most REACH_FLOOR.
 */
export function filterCost(
  terms: readonly FilterTerm[],
  reach: Readonly<Record<string, number>> | null,
): { cost: number; costliest: FilterTerm | null } {
  const of = (path: string) => reach?.[path] ?? REACH_FLOOR;
  let cost = 0;
  let costliest: FilterTerm | null = null;
  let most = -1;
  for (const t of terms) {
    const c = t.terms * (1 + t.prefixes.reduce((n, p) => n + of(p), 0)) + t.comparisons * of(t.path);
    cost += c;
    if (c > most) [most, costliest] = [c, t];
  }
  return { cost, costliest };
}
