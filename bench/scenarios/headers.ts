import { parseKeyring, placeOf, seal } from '../../src/domain/secret-box.js';
import { headerSealColumn, type StoredHeader } from '../../src/domain/headers.js';
import { TEST_SECRET_KEYS } from '../../test/kit/index.js';
import type { BenchDb } from '../lib/db.js';
import { alternating, quick, record, type Bench } from '../lib/harness.js';
import { drainOnce } from './delivery.js';

// Custom headers' cost on the delivery path (issue #21: ≥ 0.97): the
// one-webhook drain with three custom headers (one secret, opened through the
// vault's cache) ÷ the same drain without, each twice in every round, in the
// order a, b, b, a (lib/harness.ts, alternating: the second of two drains in a
// row is slower, whichever it is); the table gives each figure's median.

const EVENTS = quick ? 4000 : 20_000;

/** Three headers, the first one secret and sealed as the service seals it, written before the server starts. */
async function threeHeaders(db: BenchDb, ids: string[]): Promise<void> {
  const ring = parseKeyring(TEST_SECRET_KEYS);
  for (const id of ids) {
    const headers: StoredHeader[] = [
      {
        name: 'X-Api-Key',
        secret: true,
        sealed: seal(ring, 'sk_bench_0123456789abcdef', placeOf('webhooks', headerSealColumn('X-Api-Key'), id)),
      },
      { name: 'X-Tenant', secret: false, value: 'bench-tenant' },
      { name: 'X-Region', secret: false, value: 'eu-west-1' },
    ];
    await db.pool.query('UPDATE webhooks SET headers = $2::jsonb WHERE id = $1', [id, JSON.stringify(headers)]);
  }
}

export async function headersCost(bench: Bench): Promise<void> {
  const without = async () => (await drainOnce(bench, 1, EVENTS, { path: 'plain' })).rate;
  const withHeaders = async () =>
    (await drainOnce(bench, 1, EVENTS, { path: 'headers', configure: threeHeaders })).rate;
  const [plain, headed] = await alternating('headers', without, withHeaders);
  record(`delivery throughput: 1 webhook × ${EVENTS}, no custom headers`, 'deliveries/s', plain);
  record(`delivery throughput: 1 webhook × ${EVENTS}, 3 custom headers (1 secret)`, 'deliveries/s', headed);
  record('delivery throughput: 3 custom headers ÷ none', 'ratio', headed / plain, '≥ 0.97', (m) => m >= 0.97);
}
