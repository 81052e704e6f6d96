import { hashToken, newApiToken } from '../../src/domain/tokens.js';
import type { BenchDb } from '../lib/db.js';
import {
  AGAINST,
  atTeardown,
  call,
  emptyDatabase,
  publish,
  publishBatch,
  quick,
  record,
  released,
  scoped,
  server,
  typename,
  type Bench,
  type Defer,
} from '../lib/harness.js';
import type { ServerProc } from '../lib/procs.js';
import { buildRevision, previousRelease, type Build } from '../lib/release.js';
import { latency, until } from '../lib/stats.js';
import { arrivalLatency } from './end-to-end.js';

// Release over release: every headline figure of this build divided by the
// previous release's (bench/lib/release.ts: --against REF, else the last tag,
// else DEFAULT_RELEASE), built from git once per run. In each round both builds
// run the same steps, one after the other (the order alternating from round to
// round, so neither always gets the warmer minute), each on empty databases
// that the build migrates itself, driven only through its API, with a webhook
// that has a bearer token and an HMAC secret. The ratio is taken per round and
// the row is the median of those; a drop over 3 % fails the run (gateFailures).

const PUBLISHES = quick ? 2000 : 10_000;
const BATCHES = quick ? 30 : 150; // of 100 events
const E2E_SECONDS = quick ? 5 : 30;
const E2E_RATE = 200;
const WARM = 200;

let build: Build | undefined;
let rounds = 0;

/** Builds the previous release once, before the first round; its worktree goes with the run. */
export async function releaseBuild(): Promise<void> {
  const ref = previousRelease(AGAINST);
  process.stderr.write(`  release: building ${ref} from git…\n`);
  const started = Date.now();
  build = buildRevision(ref);
  atTeardown(() => build?.remove());
  process.stderr.write(`  release: ${ref} (${build.sha}) built in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

interface Figures {
  drain: number;
  publish: number;
  /** Absent when the build has no publishEvents. */
  publishEvents?: number;
  e2eP50: number;
  e2eP99: number;
}

/** A key written as `hookline api-keys create` writes it, into the table the build has just migrated. */
async function key(db: BenchDb, role: 'PUBLISHER' | 'SUPPORT'): Promise<string> {
  const token = newApiToken();
  await db.pool.query('INSERT INTO api_keys (name, role, token_hash) VALUES ($1, $2, $3)', [
    `release ${role}`,
    role,
    hashToken(token),
  ]);
  return token;
}

/** The build's server on `db` (which its first start migrates); `worker`: delivering in-process, else API-only. */
async function start(defer: Defer, dist: string | undefined, db: BenchDb, worker: boolean): Promise<ServerProc> {
  return server(defer, { env: { DATABASE_URL: db.url, HOOKLINE_WORKER: String(worker) }, distRoot: dist });
}

async function webhook(bench: Bench, srv: ServerProc, support: string, path: string): Promise<void> {
  await call(bench.gen, {
    url: srv.url,
    token: support,
    query: 'mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }',
    variables: {
      i: {
        name: 'release',
        destinationUrl: `${bench.receiver.url}/ok/${path}`,
        bearerToken: 'bearer-token',
        hmacSecret: `whsec_${Buffer.alloc(24, 3).toString('base64')}`,
        subscriptions: [{ resource: 'USERS', action: 'CREATE' }],
      },
    },
  });
}

/** Drain, publish and end to end on one database; publishEvents on another (its backlog would be the drain's). */
async function measure(bench: Bench, dist: string | undefined, side: string): Promise<Figures> {
  const { gen, receiver } = bench;
  const path = `rel-${side}`;
  const figures: Figures = { drain: 0, publish: 0, e2eP50: 0, e2eP99: 0 };
  await scoped(async (defer) => {
    const db = await emptyDatabase(defer, `release_${side}`);
    released(defer, bench);
    // API-only while publishing: nothing is delivered, so the figure is the publishing writes alone.
    const api = await start(defer, dist, db, false);
    const [publisher, support] = [await key(db, 'PUBLISHER'), await key(db, 'SUPPORT')];
    await webhook(bench, api, support, path);
    await gen.closed({ request: typename(api.url, publisher), concurrency: 8, durationMs: 1000 });
    await gen.closed({ request: publish(api.url, publisher, 'w'), concurrency: 8, requests: WARM });
    const pub = await gen.closed({ request: publish(api.url, publisher, 'p'), concurrency: 32, requests: PUBLISHES });
    if (pub.errors) throw new Error(`release ${side}: ${pub.errors} publishes failed: ${pub.firstError}`);
    figures.publish = pub.rate;
    await api.kill();

    await receiver.reset();
    const full = await start(defer, dist, db, true);
    const backlog = WARM + PUBLISHES;
    await until(async () => (await receiver.stats(`/ok/${path}`)).unique >= backlog, 600_000, `${side}: drain`, 50);
    const s = await receiver.stats(`/ok/${path}`);
    figures.drain = (backlog - 1) / (Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9);

    await gen.closed({ request: publish(full.url, publisher, 'e'), concurrency: 1, requests: WARM });
    await until(async () => (await receiver.stats(`/ok/${path}`)).unique >= backlog + WARM, 60_000, 'warm-up', 50);
    await receiver.reset(true);
    const r = await gen.open({ request: publish(full.url, publisher, 'l'), rate: E2E_RATE, seconds: E2E_SECONDS });
    await until(async () => (await receiver.stats(`/ok/${path}`)).unique >= r.count, 60_000, `${side}: e2e`, 50);
    const l = latency(await arrivalLatency(receiver, 'l', r, E2E_RATE));
    figures.e2eP50 = l.p50;
    figures.e2eP99 = l.p99;
    await receiver.reset();
  });
  await scoped(async (defer) => {
    const db = await emptyDatabase(defer, `release_batch_${side}`);
    released(defer, bench);
    const api = await start(defer, dist, db, false);
    const [publisher, support] = [await key(db, 'PUBLISHER'), await key(db, 'SUPPORT')];
    await webhook(bench, api, support, path);
    const batch = (prefix: string) => publishBatch(api.url, publisher, prefix, 100);
    const probe = await gen.closed({ request: batch('q'), concurrency: 1, requests: 1 });
    // A release from before publishEvents has no such row; this build must have it.
    if (probe.errors && dist === undefined) throw new Error(`release: publishEvents failed: ${probe.firstError}`);
    if (probe.errors) {
      process.stderr.write(`  (release ${side}: publishEvents refused, not compared: ${probe.firstError})\n`);
      return;
    }
    await gen.closed({ request: batch('w'), concurrency: 4, requests: 20 });
    const b = await gen.closed({ request: batch('b'), concurrency: 4, requests: BATCHES });
    if (b.errors) throw new Error(`release ${side}: ${b.errors} publishEvents failed: ${b.firstError}`);
    figures.publishEvents = b.rate * 100;
  });
  return figures;
}

const ROWS: { key: keyof Figures; what: string; unit: string; higherIsBetter: boolean }[] = [
  { key: 'drain', what: 'drain, one signed webhook', unit: 'deliveries/s', higherIsBetter: true },
  { key: 'publish', what: 'publishEvent at concurrency 32, API-only', unit: 'events/s', higherIsBetter: true },
  { key: 'publishEvents', what: 'publishEvents, 100 per request, 4 at a time', unit: 'events/s', higherIsBetter: true },
  { key: 'e2eP50', what: `end-to-end at ${E2E_RATE} events/s: p50`, unit: 'ms', higherIsBetter: false },
  { key: 'e2eP99', what: `end-to-end at ${E2E_RATE} events/s: p99`, unit: 'ms', higherIsBetter: false },
];

/** One round: both builds, in alternating order; each figure of each, and this build ÷ the release. */
export async function releaseRows(bench: Bench): Promise<void> {
  if (!build) throw new Error('release: releaseBuild() runs before the first round');
  const { ref, dist } = build;
  const sides = [
    { side: 'base', dist, label: ref },
    { side: 'head', dist: undefined, label: 'this build' },
  ];
  if (rounds++ % 2 === 1) sides.reverse();
  const got: Record<string, Figures> = {};
  for (const s of sides) got[s.side] = await measure(bench, s.dist, s.side);
  const [base, head] = [got.base!, got.head!];
  for (const row of ROWS) {
    const b = base[row.key];
    const h = head[row.key];
    if (h !== undefined) record(`release: ${row.what}, this build`, row.unit, h);
    if (b === undefined) continue;
    record(`release: ${row.what}, ${ref}`, row.unit, b);
    if (h === undefined) continue;
    record(
      `release: ${row.what}, this build ÷ ${ref}`,
      'ratio',
      h / b,
      row.higherIsBetter ? '≥ 0.97' : '≤ 1.03',
      row.higherIsBetter ? (m) => m >= 0.97 : (m) => m <= 1.03,
      true,
    );
  }
}
