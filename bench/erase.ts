import 'reflect-metadata';
import type pg from 'pg';
import { DEFAULT_ACCOUNT_ID, EVERY_ACCOUNT } from '../src/domain/accounts.js';
import { CLI_ACTOR } from '../src/domain/audit.js';
import { ERASE_BATCH, ErasureService } from '../src/services/erasure.js';
import type { Db } from '../src/storage/sql/db.js';
import { eraseBatch } from '../src/storage/sql/erasure.js';
import { freshDb, stopDatabase } from './lib/db.js';

// `node dist/bench/erase.js [--events N] [--batch B]`: eraseObject of one
// object with N events (default 100,000), each delivered once with a response
// body and one in ten still pending, among 50,000 events of other objects and
// N/10 of the same id in another account. Prints the plan of one batch in the
// middle of the walk (EXPLAIN ANALYZE, rolled back), the dry run's and the
// erasure's time, and what each left behind.

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const N = arg('--events', 100_000);
const BATCH = arg('--batch', ERASE_BATCH);
const OBJECT = 'bench-person';

async function seed(pool: pg.Pool): Promise<void> {
  const other = (
    await pool.query<{ id: string }>(`INSERT INTO accounts (key, name) VALUES ('bench-other', 'other') RETURNING id`)
  ).rows[0]!.id;
  const webhook = (
    await pool.query<{ id: string }>(
      `INSERT INTO webhooks (account_id, name, destination_url, status) VALUES ($1, 'bench', 'http://127.0.0.1:9/x', 'PAUSED') RETURNING id`,
      [DEFAULT_ACCOUNT_ID],
    )
  ).rows[0]!.id;
  const events = async (account: string, n: number, id: (i: string) => string) =>
    pool.query(
      `INSERT INTO events (account_id, resource, action, type, payload, occurred_at, created_at)
       SELECT $1, 'USERS', 'UPDATE', 'user.updated',
              jsonb_build_object('id', ${id('i')}, 'email', 'person' || i || '@example.com', 'first_name', 'Person'),
              now(), date_trunc('milliseconds', now()) - i * interval '1 ms'
       FROM generate_series(1, $2::int) i`,
      [account, n],
    );
  await events(DEFAULT_ACCOUNT_ID, N, () => `'${OBJECT}'`);
  await events(DEFAULT_ACCOUNT_ID, 50_000, (i) => `'other-' || ${i}`);
  await events(other, Math.ceil(N / 10), () => `'${OBJECT}'`);
  await pool.query(
    `INSERT INTO deliveries (event_id, webhook_id, status, attempt_count)
     SELECT id, $1, CASE WHEN seq % 10 = 0 THEN 'PENDING' ELSE 'SUCCEEDED' END, 1 FROM events WHERE account_id = $2`,
    [webhook, DEFAULT_ACCOUNT_ID],
  );
  await pool.query(
    `INSERT INTO delivery_attempts (delivery_id, webhook_id, event_id, attempt_number, outcome, response_status,
                                    response_body, duration_ms, started_at)
     SELECT id, webhook_id, event_id, 1, 'SUCCESS', 200, 'ok, got person@example.com', 5, now() FROM deliveries`,
  );
  await pool.query(
    `INSERT INTO delivery_queue (delivery_id, webhook_id, event_id, next_attempt_at, attempt_count)
     SELECT id, webhook_id, event_id, NULL, 1 FROM deliveries WHERE status = 'PENDING'`,
  );
  await pool.query('VACUUM ANALYZE');
}

/** The plan of the batch after `skip` events, run and rolled back. */
async function planOfBatch(pool: pg.Pool, skip: number): Promise<string> {
  const at = (
    await pool.query<{ created_at: Date; id: string }>(
      `SELECT created_at, id FROM events WHERE payload ->> 'id' = $1 AND resource = 'USERS'
       ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1`,
      [OBJECT, skip],
    )
  ).rows[0]!;
  const client = await pool.connect();
  const lines: string[] = [];
  const explaining: Db = {
    query: (async (text: string, values: unknown[]) => {
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values);
      lines.push(...rows.map((r) => r['QUERY PLAN']));
      return { rows: [{ walked: 0 }] };
    }) as unknown as Db['query'],
  };
  try {
    await client.query('BEGIN');
    await eraseBatch(
      explaining,
      { accountId: DEFAULT_ACCOUNT_ID, resource: 'USERS', objectId: OBJECT },
      { createdAt: at.created_at, id: at.id },
      BATCH,
    );
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const db = await freshDb('erase');
  try {
    let t = performance.now();
    await seed(db.pool);
    process.stdout.write(`seeded ${N} events of ${OBJECT} in ${Math.round(performance.now() - t)} ms\n`);
    process.stdout.write(`${await planOfBatch(db.pool, Math.floor(N / 2))}\n`);
    const service = new ErasureService(db.pool, BATCH);
    const request = { resource: 'USERS' as const, objectId: OBJECT, accountId: DEFAULT_ACCOUNT_ID };
    t = performance.now();
    const dry = await service.erase(EVERY_ACCOUNT, { ...request, dryRun: true }, CLI_ACTOR);
    process.stdout.write(`dry run: ${JSON.stringify(dry)} in ${Math.round(performance.now() - t)} ms\n`);
    t = performance.now();
    const done = await service.erase(EVERY_ACCOUNT, request, CLI_ACTOR);
    const ms = performance.now() - t;
    const batches = Math.ceil((N + Math.ceil(N / 10)) / BATCH);
    process.stdout.write(
      `erased: ${JSON.stringify(done)} in ${Math.round(ms)} ms (batch ${BATCH}, ${batches} batches, ${(ms / batches).toFixed(1)} ms each)\n`,
    );
    const { rows } = await db.pool.query(
      `SELECT (SELECT count(*) FROM events WHERE payload ->> 'id' = $1 AND payload ? 'email' AND account_id = $2)::int AS with_data,
              (SELECT count(*) FROM delivery_attempts a JOIN events e ON e.id = a.event_id
               WHERE e.payload ->> 'id' = $1 AND a.response_body IS NOT NULL AND e.account_id = $2)::int AS bodies,
              (SELECT count(*) FROM delivery_queue)::int AS queued_elsewhere,
              (SELECT count(*) FROM events WHERE payload ? 'email')::int AS others_with_data`,
      [OBJECT, DEFAULT_ACCOUNT_ID],
    );
    process.stdout.write(`left: ${JSON.stringify(rows[0])}\n`);
  } finally {
    await db.close();
    await stopDatabase();
  }
}

await main();
