import { parseKeyring, placeOf, seal } from '../../src/domain/secret-box.js';
import { headerSealColumn, type StoredHeader } from '../../src/domain/headers.js';
import { TEST_SECRET_KEYS } from '../../test/kit/index.js';
import type { BenchDb } from '../lib/db.js';
import { alternating, quick, record, type Bench } from '../lib/harness.js';
import { drainOnce } from './delivery.js';

// Custom headers' cost on the delivery path (issue #21: ≥ 0.97): the
// one-webhook drain with three custom headers (one secret, opened through the
// vault's cache) ÷ the same drain without, both in every round, their order
// swapped from one round to the next so a slow minute of the shared machine
// does not always land on the same side; the table gives each figure's median.

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
  const without = () => drainOnce(bench, 1, EVENTS, { path: 'plain' });
  const withHeaders = () => drainOnce(bench, 1, EVENTS, { path: 'headers', configure: threeHeaders });
  const [plain, headed] = await alternating('headers', without, withHeaders);
  record(`delivery throughput: 1 webhook × ${EVENTS}, no custom headers`, 'deliveries/s', plain.rate);
  record(`delivery throughput: 1 webhook × ${EVENTS}, 3 custom headers (1 secret)`, 'deliveries/s', headed.rate);
  record('delivery throughput: 3 custom headers ÷ none', 'ratio', headed.rate / plain.rate, '≥ 0.97', (m) => m >= 0.97);
}
