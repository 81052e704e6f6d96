import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { REACH_FLOOR, compileFilter, filterReach } from '../../src/domain/filter.js';
import { HooklineError } from '../../src/domain/errors.js';
import { freshDatabase, type TestDatabase } from '../kit/index.js';

// Generated filters and payloads, judged by PostgreSQL: every filter the
// compiler accepts must be a path PostgreSQL parses, stored as jsonb, and
// evaluated (`payload @@ path`) with the truth of the small reference
// evaluator below, which reads the filter as the delivery contract describes
// it, not as the compiler prints it. Every filter it refuses must be refused
// as BAD_USER_INPUT. And what filterReach says a field reaches must be what
// PostgreSQL's lax paths reach. The generator is seeded: a failure names its
// seed and case, and the same seed makes the same cases.

const SEED = Number(process.env.FILTER_SEED ?? 17);
const FILTERS = 1000;
const PAYLOADS = 12;

function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Random = ReturnType<typeof random>;

// Names that need quoting, escaping, or more than one UTF-16 unit; a key with a dot is one key.
const KEYS = ['a', 'b', 'tags', 'n', 'we"ird', 'back\\slash', 'ünï', '😀', 'sp ace', '$d', 'a.b', 'x', ''];
const STRINGS = ['', 'a', 'b', 'A', 'é', 'e\u0301', '😀', 'a"b', '\\', '\n', 'ab', 'z', '\uffff', '\u{10000}'];
const NUMBERS = [-2, -1, -0.5, 0, 1, 1.5, 2, 3, 1e21, 1e-7];

function scalar(r: Random): unknown {
  const k = r.int(10);
  if (k < 4) return r.pick(NUMBERS);
  if (k < 8) return r.pick(STRINGS);
  if (k < 9) return r.next() < 0.5;
  return null;
}

function fieldName(r: Random): string {
  const segments = 1 + (r.next() < 0.3 ? r.int(3) : 0);
  return Array.from({ length: segments }, () => r.pick(KEYS.filter((k) => k !== '' || r.next() < 0.1))).join('.');
}

function operators(r: Random, depth: number): unknown {
  if (r.next() < 0.3) return scalar(r);
  if (r.next() < 0.03) return [scalar(r)];
  const ops: Record<string, unknown> = {};
  const n = r.next() < 0.1 ? 0 : 1 + r.int(3);
  for (let i = 0; i < n; i++) {
    const op = r.pick(['$eq', '$ne', '$in', '$nin', '$gt', '$gte', '$lt', '$lte', '$exists', '$not', '$regex']);
    if (op === '$in' || op === '$nin') ops[op] = Array.from({ length: r.int(5) }, () => scalar(r));
    else if (op === '$exists') ops[op] = r.next() < 0.9 ? r.next() < 0.5 : 'yes';
    else if (op === '$not') ops[op] = depth < 6 ? operators(r, depth + 1) : {};
    else if (op.startsWith('$g') || op.startsWith('$l')) ops[op] = r.next() < 0.5 ? r.pick(NUMBERS) : r.pick(STRINGS);
    else ops[op] = scalar(r);
  }
  return ops;
}

function filter(r: Random, depth = 1): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  const n = r.int(depth === 1 ? 4 : 3);
  for (let i = 0; i < n; i++) {
    const k = r.int(10);
    if (k < 2 && depth < 7) {
      f[r.pick(['$and', '$or'])] = Array.from({ length: r.next() < 0.1 ? 0 : 1 + r.int(3) }, () =>
        filter(r, depth + 1),
      );
    } else if (k < 3 && depth < 7) {
      f.$not = filter(r, depth + 1);
    } else {
      f[fieldName(r)] = operators(r, depth);
    }
  }
  return f;
}

function value(r: Random, depth: number, wide = false): unknown {
  const k = r.int(10);
  if (depth >= 3 || k < 5) return scalar(r);
  if (k < 8) {
    const n = wide && r.next() < 0.3 ? 60 + r.int(120) : r.int(4);
    return Array.from({ length: n }, () => value(r, depth + 1, wide));
  }
  return object(r, depth + 1, wide);
}

function object(r: Random, depth = 0, wide = false): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const n = r.int(depth === 0 ? 7 : 4);
  for (let i = 0; i < n; i++) o[r.pick(KEYS)] = value(r, depth, wide);
  return o;
}

// The reference: the contract's reading of a filter, on the payload as JavaScript values.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const unwrap = (v: Json): Json[] => (Array.isArray(v) ? v : [v]);

/** What a field path reaches in lax mode: each step looks into an object, or into each object of an array. */
function reached(payload: Json, field: string): Json[] {
  let items: Json[] = [payload];
  for (const key of field.split('.')) {
    items = items.flatMap((v) => unwrap(v).flatMap((u) => (isObject(u) && Object.hasOwn(u, key) ? [u[key]!] : [])));
  }
  return items;
}

function codePointOrder(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function compares(item: Json, op: string, operand: Json): boolean {
  if (op === '==') {
    if (item === null || operand === null) return item === operand;
    return typeof item === typeof operand && typeof item !== 'object' && item === operand;
  }
  let order: number;
  if (typeof item === 'number' && typeof operand === 'number') order = item - operand;
  else if (typeof item === 'string' && typeof operand === 'string') order = codePointOrder(item, operand);
  else return false;
  return op === '>' ? order > 0 : op === '>=' ? order >= 0 : op === '<' ? order < 0 : order <= 0;
}

/** A field matches when a value it reaches, an element of an array value, or an element of an array in that array, does. */
function some(payload: Json, field: string, op: string, operands: Json[]): boolean {
  return reached(payload, field).some((v) =>
    unwrap(v).some((u) => unwrap(u).some((e) => operands.some((o) => compares(e, op, o)))),
  );
}

function fieldMatches(payload: Json, field: string, condition: Json): boolean {
  if (!isObject(condition)) return some(payload, field, '==', [condition]);
  return Object.entries(condition).every(([op, operand]) => {
    switch (op) {
      case '$eq':
        return some(payload, field, '==', [operand]);
      case '$ne':
        return !some(payload, field, '==', [operand]);
      case '$in':
        return some(payload, field, '==', operand as Json[]);
      case '$nin':
        return !some(payload, field, '==', operand as Json[]);
      case '$exists':
        return reached(payload, field).length > 0 === operand;
      case '$not':
        return !fieldMatches(payload, field, operand);
      default:
        return some(payload, field, { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[op]!, [operand]);
    }
  });
}

function matches(payload: Json, f: Record<string, Json>): boolean {
  return Object.entries(f).every(([key, v]) => {
    if (key === '$and') return (v as Record<string, Json>[]).every((g) => matches(payload, g));
    if (key === '$or') return (v as Record<string, Json>[]).some((g) => matches(payload, g));
    if (key === '$not') return !matches(payload, v as Record<string, Json>);
    return fieldMatches(payload, key, v);
  });
}

describe('generated filters, judged by PostgreSQL against a reference evaluator', () => {
  let db: TestDatabase;
  let client: pg.PoolClient;
  before(async () => {
    db = await freshDatabase('filter_property');
    client = await db.pool.connect();
    // Each statement here is small; a slow one is a bug, not a wait.
    await client.query(`SET statement_timeout = '5s'`);
  });
  after(async () => {
    client.release();
    await db.close();
  });

  it(`${FILTERS} filters (seed ${SEED}): accepted ones parse, store and evaluate as the reference says; the others are BAD_USER_INPUT`, async () => {
    const r = random(SEED);
    const payloads: Json[] = [{}, ...Array.from({ length: PAYLOADS }, () => object(r) as Json)];
    let accepted = 0;
    let evaluations = 0;
    let matched = 0;
    const shapes = new Set<string>();
    for (let i = 0; i < FILTERS; i++) {
      const f = filter(r);
      const label = `seed ${SEED} case ${i}: ${JSON.stringify(f)}`;
      let path: string;
      try {
        path = compileFilter(f, 'filter').path;
      } catch (e) {
        assert.ok(e instanceof HooklineError && e.code === 'BAD_USER_INPUT', `${label} threw ${String(e)}`);
        continue;
      }
      accepted++;
      shapes.add(path.replace(/"(?:[^"\\]|\\.)*"|-?\d[\d.e+-]*/g, '_'));
      const { rows } = await client.query<{ m: boolean | null; stored: unknown }>(
        `SELECT p @@ $1::jsonpath AS m, $2::jsonb AS stored FROM unnest($3::jsonb[]) WITH ORDINALITY u(p, i) ORDER BY i`,
        [path, JSON.stringify(f), payloads.map((p) => JSON.stringify(p))],
      );
      assert.deepEqual(rows[0]!.stored, f, `${label}: stored as given`);
      rows.forEach((row, j) => {
        const expected = matches(payloads[j]!, f as Record<string, Json>);
        evaluations++;
        if (expected) matched++;
        assert.equal(row.m, expected, `${label}\n  path ${path}\n  payload ${JSON.stringify(payloads[j])}`);
      });
    }
    // Not vacuous: most generated filters are accepted, and of many shapes.
    assert.ok(accepted > FILTERS / 2, `only ${accepted} of ${FILTERS} accepted`);
    assert.ok(shapes.size > 150, `only ${shapes.size} shapes`);
    assert.ok(matched > evaluations / 10 && matched < (evaluations * 9) / 10, `${matched} of ${evaluations} matched`);
  });

  it(`what filterReach says a field reaches is what PostgreSQL's lax path reaches (seed ${SEED})`, async () => {
    const r = random(SEED + 1);
    let listed = 0;
    for (let i = 0; i < 60; i++) {
      const payload = object(r, 0, true) as Json;
      const reach = filterReach(payload) ?? {};
      // Every key path of the payload, and some it lacks.
      const paths = new Set<string>(['$."nothing"']);
      const walk = (path: string, v: Json) => {
        for (const u of unwrap(v)) {
          if (!isObject(u)) continue;
          for (const [k, child] of Object.entries(u)) {
            const p = `${path}.${JSON.stringify(k)}`;
            paths.add(p);
            for (const w of unwrap(child)) walk(p, w);
          }
        }
      };
      walk('$', payload);
      const list = [...paths].slice(0, 200);
      // `P[*].size()`: each value (array values unwrapped once) and how many elements it holds (1 if not an array).
      const { rows } = await client.query<{ sizes: number[] }>(
        `SELECT jsonb_path_query_array($1::jsonb, ('lax ' || p || '[*].size()')::jsonpath) AS sizes
         FROM unnest($2::text[]) WITH ORDINALITY u(p, i) ORDER BY i`,
        [JSON.stringify(payload), list],
      );
      rows.forEach((row, j) => {
        const path = list[j]!;
        const pg = row.sizes.reduce((n, s) => n + Math.max(1, s), 0);
        const label = `seed ${SEED + 1} payload ${i} path ${path}`;
        if (path in reach) {
          listed++;
          assert.equal(reach[path], pg, label);
          assert.ok(pg > REACH_FLOOR, label);
        } else {
          assert.ok(pg <= REACH_FLOOR, `${label}: reaches ${pg}, not listed`);
        }
      });
    }
    assert.ok(listed > 10, `only ${listed} listed fields: the payloads are not wide enough to test anything`);
  });
});
