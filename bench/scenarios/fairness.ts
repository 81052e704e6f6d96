import { createKey } from '../lib/db.js';
import { createAccount, createAccountWebhooks, envInt, publishTo, setupClient } from '../lib/accounts.js';
import { database, publishBatch, quick, record, released, scoped, server, type Bench } from '../lib/harness.js';
import type { LoadResult } from '../lib/ipc.js';
import type { ReceiverProc } from '../lib/procs.js';
import { latency, sleep, until } from '../lib/stats.js';

// Accounts, fairness: one account's backlog to a slow destination must not
// make another account's events late. Account A holds BACKLOG due deliveries
// to a destination that answers after 2 s (the receiver's /slow), spread over
// A_WEBHOOKS webhooks: with the per-webhook cap of 10, 25 webhooks could hold
// 250 requests, more than a worker's 200, so A alone could take every slot.
// Account B publishes RATE events a second (an open loop) to one fast
// destination; each of B's events is timed from when it was due to its
// arrival at the receiver. The same is measured with A's webhooks present and
// no backlog (B alone), on a fresh database and server each, in the same round.
//
// Sizes (environment): HOOKLINE_BENCH_FAIRNESS_BACKLOG (A's deliveries;
// 50,000, --quick 5,000), HOOKLINE_BENCH_FAIRNESS_WEBHOOKS (A's webhooks; 25),
// HOOKLINE_BENCH_FAIRNESS_SECONDS (B's window; 40, --quick 15),
// HOOKLINE_BENCH_FAIRNESS_RATE (B's events/s; 10), and
// HOOKLINE_BENCH_FAIRNESS_WORKER_CONCURRENCY (the server's worker concurrency; its default, 200).

const BACKLOG = envInt('HOOKLINE_BENCH_FAIRNESS_BACKLOG', quick ? 5000 : 50_000);
const A_WEBHOOKS = envInt('HOOKLINE_BENCH_FAIRNESS_WEBHOOKS', 25);
const SECONDS = envInt('HOOKLINE_BENCH_FAIRNESS_SECONDS', quick ? 15 : 40);
const RATE = envInt('HOOKLINE_BENCH_FAIRNESS_RATE', 10);
/** Set: the server's HOOKLINE_WORKER_CONCURRENCY (default 200), to see what more room in the worker does. */
const CONCURRENCY = process.env.HOOKLINE_BENCH_FAIRNESS_WORKER_CONCURRENCY
  ? envInt('HOOKLINE_BENCH_FAIRNESS_WORKER_CONCURRENCY', 200)
  : undefined;
const SERVER_ENV: Record<string, string> = CONCURRENCY ? { HOOKLINE_WORKER_CONCURRENCY: String(CONCURRENCY) } : {};
/** How long B's last events may take to arrive after the window before they count as late by at least that much. */
const GRACE_MS = 60_000;

const A = 'bench-a';
const B = 'bench-b';

/**
 * From the time each of B's publishes was due to its arrival (ms). An event
 * not received by the end of the grace period counts with the time it had
 * waited by then, a lower bound, so a starved account shows as a large p99
 * instead of a sample left out; how many is said on stderr.
 */
async function arrivalLatency(receiver: ReceiverProc, prefix: string, r: LoadResult, endNs: bigint): Promise<number[]> {
  const arrivals = await receiver.arrivals();
  const lat: number[] = [];
  let missing = 0;
  for (let seq = 0; seq < r.count; seq++) {
    const due = r.startNs + BigInt(Math.round((seq * 1e9) / RATE));
    const at = arrivals.get(`${prefix}${seq}`);
    if (at === undefined) missing++;
    lat.push(Number((at ?? endNs) - due) / 1e6);
  }
  if (missing)
    process.stderr.write(
      `  (${missing} of B's ${r.count} events not received ${GRACE_MS / 1000} s after the window)\n`,
    );
  return lat;
}

interface Figures {
  p50: number;
  p99: number;
  /** Share of B's events that arrived more than 1 s after they were due (or not at all), in %. */
  late: number;
  /** A's deliveries per second during B's window (0 without a backlog). */
  aRate: number;
  /** A's deliveries still queued when B's window ended. */
  aLeft: number;
  /** B's publishes answered (from when each was due), p99: the part of B's lateness spent before the worker. */
  publishP99: number;
}

async function measure(bench: Bench, withBacklog: boolean): Promise<Figures> {
  const { receiver, gen } = bench;
  let figures: Figures = { p50: NaN, p99: NaN, late: NaN, aRate: 0, aLeft: 0, publishP99: NaN };
  await scoped(async (defer) => {
    const db = await database(defer, 'fairness');
    const support = await createKey(db, 'SUPPORT');
    const publisher = await createKey(db, 'PUBLISHER');
    const srv = await server(defer, { env: { DATABASE_URL: db.url, ...SERVER_ENV } });
    released(defer, bench);
    const client = setupClient(srv.url, support);
    defer(() => client.close());
    const a = await createAccount(client, A);
    const b = await createAccount(client, B);
    const aHooks = await createAccountWebhooks(
      client,
      a,
      Array.from({ length: A_WEBHOOKS }, (_, i) => `${receiver.url}/slow/fa${i}`),
    );
    await createAccountWebhooks(client, b, [`${receiver.url}/ok/fb`]);
    // Warm-up (JIT, pool connections, API key cache), as in the end-to-end scenario.
    await gen.closed({ request: publishTo(srv.url, publisher, B, 'w'), concurrency: 1, requests: 100 });
    await until(async () => (await receiver.stats('/ok/fb')).unique >= 100, 30_000, 'warm-up receipts', 50);
    if (withBacklog) {
      // A's backlog through publishEvents, 100 events per request, each event fanned out to every A webhook.
      const requests = Math.ceil(BACKLOG / A_WEBHOOKS / 100);
      const seeded = await gen.closed({
        request: publishBatch(srv.url, publisher, 'a', 100, A),
        concurrency: 4,
        requests,
      });
      if (seeded.errors) throw new Error(`A's backlog: ${seeded.firstError}`);
      // The worker takes as much of A as it will before B starts.
      await sleep(2000);
    }
    const queued = async () =>
      (
        await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM delivery_queue WHERE webhook_id = ANY($1)', [
          aHooks,
        ])
      ).rows[0]!.n;
    const aBefore = withBacklog ? await queued() : 0;
    if (withBacklog) process.stderr.write(`  A: ${aBefore} deliveries queued as B starts\n`);
    await receiver.reset(true);
    const r = await gen.open({ request: publishTo(srv.url, publisher, B, 'b'), rate: RATE, seconds: SECONDS });
    if (r.errors) throw new Error(`B's publishes: ${r.errors} failed; first: ${r.firstError}`);
    const aLeft = withBacklog ? await queued() : 0;
    const aReceived = (await receiver.stats()).byPath['/slow'] ?? 0;
    await until(async () => (await receiver.stats('/ok/fb')).unique >= r.count, GRACE_MS, "B's receipts", 100).catch(
      () => undefined,
    );
    const lat = await arrivalLatency(receiver, 'b', r, process.hrtime.bigint());
    const l = latency(lat);
    const late = (100 * lat.filter((ms) => ms > 1000).length) / lat.length;
    figures = { p50: l.p50, p99: l.p99, late, aRate: aReceived / r.seconds, aLeft, publishP99: r.p99 };
    if (withBacklog && aLeft === 0)
      process.stderr.write(`  (A's backlog ran out during B's window: raise HOOKLINE_BENCH_FAIRNESS_BACKLOG)\n`);
    await receiver.reset();
  });
  return figures;
}

/** B's end-to-end latency alone, then beside A's backlog, and the ratio of the p99s. */
export async function accountsFairness(bench: Bench): Promise<void> {
  const alone = await measure(bench, false);
  const busy = await measure(bench, true);
  const tag = `accounts fairness${CONCURRENCY ? ` (worker concurrency ${CONCURRENCY})` : ''}`;
  const label = `${tag}: B at ${RATE} events/s`;
  const backlog = `beside A's ${BACKLOG.toLocaleString('en')} deliveries to a 2 s destination (${A_WEBHOOKS} webhooks)`;
  record(`${label} alone: end-to-end p50`, 'ms', alone.p50);
  record(`${label} alone: end-to-end p99`, 'ms', alone.p99);
  record(`${label} ${backlog}: end-to-end p50`, 'ms', busy.p50);
  record(`${label} ${backlog}: end-to-end p99`, 'ms', busy.p99);
  record(`${label} alone: publishEvent answered, p99`, 'ms', alone.publishP99);
  record(`${label} ${backlog}: publishEvent answered, p99`, 'ms', busy.publishP99);
  record(`${label} ${backlog}: events later than 1 s`, '%', busy.late);
  record(`${tag}: A's deliveries/s meanwhile (its 2 s destination)`, 'deliveries/s', busy.aRate);
  record(`${tag}: A's deliveries still queued at the end of B's window`, 'deliveries', busy.aLeft);
  record(`${tag}: B p99 with A ÷ alone`, 'ratio', busy.p99 / alone.p99, '≤ 2', (m) => m <= 2);
}
