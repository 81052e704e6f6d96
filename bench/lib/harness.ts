import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { parseKeyring, placeOf, seal } from '../../src/domain/secret-box.js';
import { newWebhookSecret } from '../../src/domain/tokens.js';
import { TEST_SECRET_KEYS } from '../../test/kit/server.js';
import { adminUrl, createKey, createWebhooks, emptyDb, freshDb, stopDatabase, type BenchDb } from './db.js';
import { SEQ, type GqlRequest, type LoadResult } from './ipc.js';
import { PUBLISH, userPayload } from './load.js';
import {
  killAll,
  startServer,
  type GeneratorProc,
  type ReceiverProc,
  type ServerOptions,
  type ServerProc,
} from './procs.js';
import { summary } from './stats.js';

// What every scenario of `npm run bench` (bench/run.ts) shares: the rows it
// records, the processes and databases it starts (stopped, last first, also
// when it fails), the requests it sends, and the run's teardown.

// Read here, not only by bench/run.ts (which checks them), so that every scenario module sees the same run.
const { values: argv } = parseArgs({
  options: { quick: { type: 'boolean' }, rounds: { type: 'string' }, against: { type: 'string' } },
  strict: false,
  allowPositionals: true,
});
export const quick = argv.quick === true;
export const RUNS = typeof argv.rounds === 'string' ? Number(argv.rounds) : quick ? 1 : 3;
/** `--against REF`: the revision the release rows divide this build by (bench/scenarios/release.ts). */
export const AGAINST = typeof argv.against === 'string' ? argv.against : undefined;

type Row = {
  name: string;
  unit: string;
  values: number[];
  target?: string;
  ok?: (median: number) => boolean;
  /** A median that misses its target fails the run (gateFailures). */
  gate?: boolean;
};
const rows: Row[] = [];
export function record(
  name: string,
  unit: string,
  value: number,
  target?: string,
  ok?: (m: number) => boolean,
  gate = false,
): void {
  let row = rows.find((r) => r.name === name);
  if (!row) rows.push((row = { name, unit, values: [], target, ok, gate }));
  row.values.push(value);
  process.stderr.write(`  ${name}: ${value.toFixed(unit === 'ratio' ? 3 : 1)} ${unit}\n`);
}

/**
 * What a scenario leaves for the later ones of the same round to divide by;
 * a figure is absent when its scenario did not run in this round (`--only`),
 * and a ratio against it is then not recorded.
 */
export interface Round {
  /** got's client limit at concurrency 10 (`limits`). */
  got?: number;
  /** graphile-worker + got with perfTest's settings, at its best concurrency (`baseline`): the peer. */
  baseline?: number;
  /** The same with the library's defaults (`baseline`). */
  baselineDefaults?: number;
  /** The one-webhook drain on empty tables (`drain`). */
  delivery?: number;
  /** The default server's publish rate on empty tables (`publish`). */
  publish?: number;
}

export interface Bench {
  receiver: ReceiverProc;
  /** Sends every HTTP request to the servers under test. */
  gen: GeneratorProc;
  /** Holds the live-feed subscribers. */
  feed: GeneratorProc;
  trivial: { url: string };
}

export type Defer = (cleanup: () => unknown) => void;

/** Runs a scenario; what it started is stopped, last first, also when it fails. */
export async function scoped(fn: (defer: Defer) => Promise<void>): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  try {
    await fn((c) => void cleanups.push(c));
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        process.stderr.write(`  (cleanup failed: ${e instanceof Error ? e.message : String(e)})\n`);
      }
    }
  }
}

// Scenario databases not yet dropped: an interrupted scenario never reaches its own cleanups.
const databases = new Set<BenchDb>();

export async function database(defer: Defer, label: string): Promise<BenchDb> {
  const db = await freshDb(label);
  databases.add(db);
  defer(() => databases.delete(db) && db.close());
  return db;
}

/** An empty database that the server started on it migrates itself. */
export async function emptyDatabase(defer: Defer, label: string): Promise<BenchDb> {
  const db = await emptyDb(label);
  databases.add(db);
  defer(() => databases.delete(db) && db.close());
  return db;
}

/** A database for the whole run (the history scenario's), dropped by the teardown. */
export async function runDatabase(label: string): Promise<BenchDb> {
  const db = await freshDb(label);
  databases.add(db);
  return db;
}

export async function server(defer: Defer, opts: ServerOptions): Promise<ServerProc> {
  const s = await startServer(opts);
  defer(() => s.kill());
  return s;
}

/** The generators' pools and subscribers are dropped at the end of a scenario: its server is gone. */
export function released(defer: Defer, { gen, feed }: Bench): void {
  defer(() => gen.release());
  defer(() => feed.release());
}

export const typename = (url: string, token?: string): GqlRequest => ({ url, token, query: '{ __typename }' });

/** publishEvent with a payload of its own per request (`${prefix}<seq>`). */
export const publish = (url: string, token: string, prefix: string): GqlRequest => ({
  url,
  token,
  query: PUBLISH,
  variables: { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`${prefix}${SEQ}`) } },
});

/** publishEvents of `size` user.created events (payload ids `${prefix}<seq>-<i>`), naming `account` when given. */
export const publishBatch = (
  url: string,
  token: string,
  prefix: string,
  size: number,
  account?: string,
): GqlRequest => ({
  url,
  token,
  query: 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }',
  variables: {
    inputs: Array.from({ length: size }, (_, i) => ({
      resource: 'USERS',
      action: 'CREATE',
      ...(account === undefined ? {} : { account }),
      payload: userPayload(`${prefix}${SEQ}-${i}`),
    })),
  },
});

/** One request, sent by the generator; its failure fails the scenario. */
export async function call(gen: GeneratorProc, request: GqlRequest): Promise<LoadResult> {
  const r = await gen.closed({ request, concurrency: 1, requests: 1 });
  if (r.errors) throw new Error(`${request.query}: ${r.firstError}`);
  return r;
}

/** Gives the webhooks a whsec_ secret, sealed as the server seals it, so their deliveries are signed. */
export async function signWith(db: BenchDb, webhookIds: string[], secret: string): Promise<void> {
  const ring = parseKeyring(TEST_SECRET_KEYS);
  await db.pool.query(
    `UPDATE webhooks w SET hmac_secret = s.sealed FROM unnest($1::uuid[], $2::text[]) AS s(id, sealed) WHERE w.id = s.id`,
    [webhookIds, webhookIds.map((id) => seal(ring, secret, placeOf('webhooks', 'hmac_secret', id)))],
  );
}

/** A server and its keys, with one webhook on /ok/<path>, for the open-loop scenarios. */
export async function openLoopServer(
  bench: Bench,
  defer: Defer,
  label: string,
  path: string,
  env: Record<string, string> = {},
): Promise<{ srv: ServerProc; key: string; support: string; db: BenchDb; webhookId: string }> {
  const db = await database(defer, label);
  const key = await createKey(db, 'PUBLISHER');
  const support = await createKey(db, 'SUPPORT');
  const [webhookId] = await createWebhooks(db, [`${bench.receiver.url}/ok/${path}`]);
  await signWith(db, [webhookId!], newWebhookSecret());
  const srv = await server(defer, { env: { DATABASE_URL: db.url, ...env } });
  released(defer, bench);
  return { srv, key, support, db, webhookId: webhookId! };
}

/** The run's circumstances; `only` is the --only selection, absent for the full run. */
export async function environment(only?: string[]): Promise<string[]> {
  const c = new pg.Client({ connectionString: await adminUrl() });
  await c.connect();
  const v = (await c.query('SHOW server_version')).rows[0].server_version as string;
  await c.end();
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version}, PostgreSQL ${v} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'})`,
    `- rounds: ${RUNS}${quick ? ' (--quick)' : ''}, ${only ? `only ${only.join(', ')},` : 'every scenario'} once per round; each figure the median of its rounds`,
    '- load: a generator process of its own (undici), feed subscribers in another, both apart from the bench process',
  ];
}

export function table(): string[] {
  const out = [
    '| scenario | median | min | max | unit | target | met |',
    '| --- | ---: | ---: | ---: | --- | --- | --- |',
  ];
  for (const r of rows) {
    const s = summary(r.values);
    const f = (x: number) => (r.unit === 'ratio' ? x.toFixed(2) : x >= 100 ? x.toFixed(0) : x.toFixed(1));
    out.push(
      `| ${r.name} | ${f(s.median)} | ${f(s.min)} | ${f(s.max)} | ${r.unit} | ${r.target ?? ''} | ${r.ok ? (r.ok(s.median) ? 'yes' : '**no**') : ''} |`,
    );
  }
  return out;
}

/** The gating rows whose median misses its target, each as `name: median (target)`. */
export function gateFailures(): string[] {
  return rows
    .filter((r) => r.gate && r.ok && !r.ok(summary(r.values).median))
    .map((r) => `${r.name}: ${summary(r.values).median.toFixed(3)} (target ${r.target})`);
}

/** Keeps the hand-written analysis below the marker when the table is regenerated. */
export function mergeNotes(file: string, generated: string): string {
  const marker = '<!-- notes -->';
  let notes = `${marker}\n`;
  try {
    const old = readFileSync(file, 'utf8');
    const at = old.indexOf(marker);
    if (at >= 0) notes = old.slice(at);
  } catch {
    /* first run */
  }
  return `${generated}\n${notes}`;
}

// What outlives a scenario and must go with the run (the previous release's worktree), undone after the processes stop.
const finalizers: (() => unknown)[] = [];
export function atTeardown(fn: () => unknown): void {
  finalizers.push(fn);
}

let down: Promise<void> | null = null;
/** Once, whichever of success, failure or a signal gets here first. */
export function teardown(): Promise<void> {
  down ??= (async () => {
    await killAll();
    for (const fn of finalizers.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        process.stderr.write(`  (teardown: ${e instanceof Error ? e.message : String(e)})\n`);
      }
    }
    const left = [...databases];
    databases.clear();
    await Promise.all(left.map((db) => db.close().catch(() => undefined)));
    await stopDatabase().catch(() => undefined);
  })();
  return down;
}

const turns = new Map<string, number>();

/**
 * Runs a, b, b, a (b, a, a, b in the next call under `name`, one call per
 * round) and returns the mean of each one's two runs, as [a, b]: each side
 * has each position once in every round. Swapping the order only from round
 * to round was not enough: of two 20,000-delivery drains in a row the second
 * ran at 0.78-0.84 of the first whichever it was (headers and limits-cost,
 * 3 rounds, 2026-12-08), so with an odd number of rounds the ratio measured
 * the position more than the cost.
 */
export async function alternating(
  name: string,
  a: () => Promise<number>,
  b: () => Promise<number>,
): Promise<[number, number]> {
  const turn = turns.get(name) ?? 0;
  turns.set(name, turn + 1);
  const [x, y] = turn % 2 === 0 ? [a, b] : [b, a];
  const x1 = await x();
  const y1 = await y();
  const y2 = await y();
  const x2 = await x();
  const [mx, my] = [(x1 + x2) / 2, (y1 + y2) / 2];
  return turn % 2 === 0 ? [mx, my] : [my, mx];
}
