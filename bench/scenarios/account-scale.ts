import { v7 as uuidv7 } from 'uuid';
import { newWebhookSecret } from '../../src/domain/tokens.js';
import { claimDue } from '../../src/storage/sql/deliveries.js';
import { insertEvents } from '../../src/storage/sql/events.js';
import { createKey, type BenchDb } from '../lib/db.js';
import { copyAccount, createAccount, createAccountWebhooks, envInt, publishTo, setupClient } from '../lib/accounts.js';
import {
  quick,
  record,
  released,
  runDatabase,
  scoped,
  server,
  signWith,
  typename,
  type Bench,
} from '../lib/harness.js';
import { startServer } from '../lib/procs.js';
import { userPayload } from '../lib/load.js';
import { latency, until } from '../lib/stats.js';

// Accounts, scale: what 10,000 accounts of 5 webhooks each cost the hot path
// of one of them. Two databases, made once per run: one holds a single account
// with 5 webhooks, the other the same account among ACCOUNTS − 1 copies of it
// (every copy with 5 webhooks subscribed to the same event type, made in SQL
// from the account the API made: bench/lib/accounts.ts copyAccount). In every
// round, on each database in turn (the order alternates between rounds):
//
// - publish: an API-only server (HOOKLINE_WORKER=false: no worker competes, and
//   nothing is claimed at publish) takes EVENTS publishEvent requests at
//   concurrency 32, each one event to the measured account, fanned out to its 5
//   webhooks: events/s and latency;
// - drain: the server is stopped, and a `hookline worker` process alone
//   delivers those events' 5 × EVENTS deliveries (plus the warm-up's) to the
//   receiver: deliveries/s from the first receipt to the last, claim and
//   record included.
//
// - statements: with no server running, the bench's own connection runs the
//   publishing statement (insertEvents: one event, its 5 deliveries and queue
//   rows) STATEMENTS times, then the worker's claim (claimDue, 100 rows at a
//   time) until those deliveries are claimed: each statement's p50, without
//   HTTP, GraphQL or a Node.js server in the figure, so the comparison is
//   PostgreSQL's work alone (the claimed rows are removed afterwards).
//
// Sizes (environment): HOOKLINE_BENCH_SCALE_ACCOUNTS (10,000),
// HOOKLINE_BENCH_SCALE_EVENTS (events per round; 4,000, --quick 1,000).

const ACCOUNTS = envInt('HOOKLINE_BENCH_SCALE_ACCOUNTS', 10_000);
const EVENTS = envInt('HOOKLINE_BENCH_SCALE_EVENTS', quick ? 1000 : 4000);
const WEBHOOKS = 5;
const WARM = 200;
const MEASURED = 'scale-0';
const STATEMENTS = quick ? 500 : 2000;

interface Installation {
  accounts: number;
  db: BenchDb;
  /** The measured account's id. */
  accountId: string;
  publisher: string;
  hooks: string[];
}
const installations: Installation[] = [];

/** One account with 5 webhooks made through the API, then `accounts − 1` copies of it in SQL. */
async function installation(bench: Bench, accounts: number): Promise<Installation> {
  const started = Date.now();
  const db = await runDatabase(`scale_${accounts}`);
  const support = await createKey(db, 'SUPPORT');
  const publisher = await createKey(db, 'PUBLISHER');
  const srv = await startServer({ env: { DATABASE_URL: db.url, HOOKLINE_WORKER: 'false' } });
  const client = setupClient(srv.url, support);
  let hooks: string[];
  let template: string;
  try {
    template = await createAccount(client, MEASURED);
    hooks = await createAccountWebhooks(
      client,
      template,
      Array.from({ length: WEBHOOKS }, (_, i) => `${bench.receiver.url}/ok/s${i}`),
    );
  } finally {
    await client.close();
    await srv.kill();
  }
  if (accounts > 1) await copyAccount(db, template, accounts - 1, 'scale-');
  // Signed after the copy (a sealed secret is bound to its row): the copies stay unsigned and never receive an event.
  await signWith(db, hooks, newWebhookSecret());
  const { rows } = await db.pool.query<{ accounts: number; webhooks: number; subscriptions: number; bytes: string }>(
    `SELECT (SELECT count(*) FROM accounts)::int AS accounts, (SELECT count(*) FROM webhooks)::int AS webhooks,
            (SELECT count(*) FROM webhook_subscriptions)::int AS subscriptions,
            (pg_total_relation_size('accounts') + pg_total_relation_size('webhooks')
              + pg_total_relation_size('webhook_subscriptions'))::text AS bytes`,
  );
  const c = rows[0]!;
  if (c.webhooks !== accounts * WEBHOOKS)
    throw new Error(`scale: expected ${accounts * WEBHOOKS} webhooks, found ${c.webhooks}`);
  process.stderr.write(
    `  scale: ${c.accounts} accounts (the default one included), ${c.webhooks} webhooks, ${c.subscriptions} subscriptions in ${((Date.now() - started) / 1000).toFixed(0)} s; accounts, webhooks and subscriptions with their indexes ${(Number(c.bytes) / 2 ** 20).toFixed(1)} MiB, ${(Number(c.bytes) / c.accounts).toFixed(0)} bytes per account\n`,
  );
  return { accounts, db, accountId: template, publisher, hooks };
}

/** Both installations, before the first round. */
export async function scaleDatabases(bench: Bench): Promise<void> {
  installations.push(await installation(bench, 1), await installation(bench, ACCOUNTS));
}

interface Figures {
  rate: number;
  p50: number;
  p99: number;
  drain: number;
}

async function measure(bench: Bench, inst: Installation, prefix: string): Promise<Figures> {
  const { receiver, gen } = bench;
  let figures: Figures = { rate: NaN, p50: NaN, p99: NaN, drain: NaN };
  await scoped(async (defer) => {
    const { db, publisher, hooks } = inst;
    const queued = async () =>
      (
        await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM delivery_queue WHERE webhook_id = ANY($1)', [
          hooks,
        ])
      ).rows[0]!.n;
    if ((await queued()) !== 0) throw new Error('scale: deliveries of an earlier round still queued');
    const srv = await server(defer, { env: { DATABASE_URL: db.url, HOOKLINE_WORKER: 'false' } });
    released(defer, bench);
    await gen.closed({ request: typename(srv.url, publisher), concurrency: 8, durationMs: 1000 }); // warm-up
    await gen.closed({
      request: publishTo(srv.url, publisher, MEASURED, `${prefix}w`),
      concurrency: 8,
      requests: WARM,
    });
    const pub = await gen.closed({
      request: publishTo(srv.url, publisher, MEASURED, prefix),
      concurrency: 32,
      requests: EVENTS,
    });
    if (pub.errors) throw new Error(`scale publish: ${pub.errors} failed; first: ${pub.firstError}`);
    await srv.kill();
    const total = (EVENTS + WARM) * WEBHOOKS;
    const n = await queued();
    if (n !== total) throw new Error(`scale: ${n} deliveries queued for ${total} (${EVENTS + WARM} events × 5)`);
    await receiver.reset();
    await server(defer, { env: { DATABASE_URL: db.url }, kind: 'worker' });
    await until(async () => (await receiver.stats('/ok/s')).unique >= total, 300_000, 'scale drain', 100);
    await until(async () => (await queued()) === 0, 60_000, 'scale drain recorded', 100);
    const s = await receiver.stats('/ok/s');
    figures = {
      rate: pub.rate,
      p50: pub.p50,
      p99: pub.p99,
      drain: (total - 1) / (Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9),
    };
    await receiver.reset();
  });
  return figures;
}

/** p50 of the publishing statement (one event to the 5 webhooks) and of a claim of 100, in ms. */
async function statements(inst: Installation): Promise<{ publish: number; claim: number }> {
  const client = await inst.db.pool.connect();
  try {
    const publishOne = (i: number) =>
      insertEvents(client, [
        {
          id: uuidv7(),
          accountId: inst.accountId,
          resource: 'USERS',
          action: 'CREATE',
          type: 'user.created',
          payload: JSON.stringify(userPayload(`st${i}`)),
          occurredAt: null,
          idempotencyKey: null,
        },
      ]);
    for (let i = 0; i < 50; i++) await publishOne(i); // prepares the statement, warms the cache
    const pub: number[] = [];
    for (let i = 0; i < STATEMENTS; i++) {
      const t = performance.now();
      await publishOne(i);
      pub.push(performance.now() - t);
    }
    const claim: number[] = [];
    for (;;) {
      const t = performance.now();
      const { rows } = await claimDue(client, {
        limit: 100,
        perWebhookCap: 1000,
        busyWebhooks: [],
        busyCounts: [],
        saturated: [],
        perAccountCap: 1000,
        busyAccounts: [],
        accountCounts: [],
        leaseMs: 600_000,
      });
      if (rows.length === 0) break;
      claim.push(performance.now() - t);
    }
    await client.query('DELETE FROM delivery_queue WHERE webhook_id = ANY($1)', [inst.hooks]);
    return { publish: latency(pub).p50, claim: latency(claim).p50 };
  } finally {
    client.release();
  }
}

let rounds = 0;

/** One account, then 10,000 (the other way round every second round), and the ratios of the two. */
export async function accountsScale(bench: Bench): Promise<void> {
  const [one, many] = installations;
  if (!one || !many) throw new Error('accounts-scale: scaleDatabases() runs before the first round');
  const round = rounds++;
  const order = round % 2 ? [many, one] : [one, many];
  const figures = new Map<Installation, Figures>();
  const sql = new Map<Installation, { publish: number; claim: number }>();
  for (const inst of order) {
    figures.set(inst, await measure(bench, inst, `r${round}a${inst.accounts}-`));
    sql.set(inst, await statements(inst));
  }
  const f1 = figures.get(one)!;
  const fn = figures.get(many)!;
  const n = ACCOUNTS.toLocaleString('en');
  const pubLabel = (who: string) => `accounts scale: publishEvent to an account with 5 webhooks, ${who}`;
  record(`${pubLabel('1 account')}: events/s at concurrency 32`, 'events/s', f1.rate);
  record(`${pubLabel(`among ${n} accounts × 5 webhooks`)}: events/s at concurrency 32`, 'events/s', fn.rate);
  record(`${pubLabel('1 account')}: p50`, 'ms', f1.p50);
  record(`${pubLabel(`among ${n} accounts`)}: p50`, 'ms', fn.p50);
  record(`${pubLabel('1 account')}: p99`, 'ms', f1.p99);
  record(`${pubLabel(`among ${n} accounts`)}: p99`, 'ms', fn.p99);
  record(`accounts scale: publish events/s, ${n} accounts ÷ 1`, 'ratio', fn.rate / f1.rate, '≥ 0.95', (m) => m >= 0.95);
  record(`accounts scale: publish p50, ${n} accounts ÷ 1`, 'ratio', fn.p50 / f1.p50, '≤ 1.05', (m) => m <= 1.05);
  const drainLabel = `accounts scale: worker drain of ${(EVENTS + WARM) * WEBHOOKS} (5 webhooks of one account)`;
  record(`${drainLabel}, 1 account`, 'deliveries/s', f1.drain);
  record(`${drainLabel}, among ${n} accounts`, 'deliveries/s', fn.drain);
  record(`accounts scale: drain, ${n} accounts ÷ 1`, 'ratio', fn.drain / f1.drain, '≥ 0.95', (m) => m >= 0.95);
  const s1 = sql.get(one)!;
  const sn = sql.get(many)!;
  const pubSql = 'accounts scale: publishing statement alone (1 event, 5 deliveries), p50';
  record(`${pubSql}, 1 account`, 'ms', s1.publish);
  record(`${pubSql}, among ${n} accounts`, 'ms', sn.publish);
  record(`${pubSql}, ${n} accounts ÷ 1`, 'ratio', sn.publish / s1.publish, '≤ 1.05', (m) => m <= 1.05);
  const claimSql = 'accounts scale: claim statement alone (100 deliveries), p50';
  record(`${claimSql}, 1 account`, 'ms', s1.claim);
  record(`${claimSql}, among ${n} accounts`, 'ms', sn.claim);
  record(`${claimSql}, ${n} accounts ÷ 1`, 'ratio', sn.claim / s1.claim, '≤ 1.05', (m) => m <= 1.05);
}
