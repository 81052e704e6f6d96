import { createWebhooks, setLimits } from '../lib/db.js';
import { alternating, database, quick, record, scoped, server, type Bench } from '../lib/harness.js';
import { until } from '../lib/stats.js';
import { backlog, drainOnce } from './delivery.js';
import { busiestSecond } from '../../test/kit/receiver.js';

// Endpoint protection's figures (issue #20): how exactly a rate limit holds
// at the destination, and what the limits cost the claim when they do not bind.

const LIMIT = 100;
const LIMITED = quick ? 500 : 1500;
const DRAIN_WEBHOOKS = 4;
const PER_WEBHOOK = quick ? 1000 : 4000;

/** One webhook limited to LIMIT requests/s drains a backlog; the receiver's busiest second against the limit. */
export async function rateLimitAccuracy({ receiver }: Bench): Promise<void> {
  await scoped(async (defer) => {
    const db = await database(defer, 'ratelimit');
    await setLimits(db, await createWebhooks(db, [`${receiver.url}/ok/limited`]), { rateLimit: LIMIT });
    await backlog(db, LIMITED, 'rl');
    await receiver.reset(true);
    await server(defer, { env: { DATABASE_URL: db.url } });
    await until(async () => (await receiver.stats()).total >= LIMITED, 600_000, 'the limited backlog', 200);
    const arrivals = [...(await receiver.arrivals()).values()];
    const s = await receiver.stats();
    const seconds = Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9;
    record(
      `rate limit ${LIMIT}/s: requests in the busiest second ÷ limit`,
      'ratio',
      busiestSecond(arrivals) / LIMIT,
      '≤ 1.05',
      (m) => m <= 1.05,
    );
    record(`rate limit ${LIMIT}/s: rate reached ÷ limit`, 'ratio', (LIMITED - 1) / seconds / LIMIT);
  });
}

/**
 * Four webhooks drain with limits set high (rateLimit 1,000/s and maxInFlight
 * 1,000 each: above what they reach, so only the claim's work on them is
 * measured) and without, each twice a round, as a, b, b, a (lib/harness.ts).
 */
export async function limitsCost(bench: Bench): Promise<void> {
  const high = { rateLimit: 1000, maxInFlight: 1000 };
  const plain = async () => (await drainOnce(bench, DRAIN_WEBHOOKS, PER_WEBHOOK, { path: 'ok' })).rate;
  const limited = async () =>
    (
      await drainOnce(bench, DRAIN_WEBHOOKS, PER_WEBHOOK, {
        path: 'ok',
        configure: (db, ids) => setLimits(db, ids, high),
      })
    ).rate;
  const [without, withLimits] = await alternating('limits-cost', plain, limited);
  record(`drain ${DRAIN_WEBHOOKS} webhooks × ${PER_WEBHOOK}, no limits`, 'deliveries/s', without);
  record(`drain ${DRAIN_WEBHOOKS} webhooks × ${PER_WEBHOOK}, limits set high`, 'deliveries/s', withLimits);
  record('drain with limits set high ÷ without', 'ratio', withLimits / without, '≥ 0.95', (m) => m >= 0.95);
}
