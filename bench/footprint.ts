import 'reflect-metadata';
import { createKey, createWebhooks, freshDb, stopDatabase } from './lib/db.js';
import { PUBLISH, userPayload } from './lib/load.js';
import { SEQ } from './lib/ipc.js';
import { killAll, startGenerator, startReceiver, startServer } from './lib/procs.js';
import { until } from './lib/stats.js';

// `npm run bench:footprint [-- --events N]`: what one delivery costs the
// database, for sizing and for the partitioning arithmetic in
// docs/operations.md. Publishes N events (one webhook, so one delivery and one
// attempt each) through the real API while the in-process worker delivers them,
// then reports the WAL written per delivery (cluster-wide: run it on an
// otherwise idle PostgreSQL) and, after VACUUM, the bytes per row of each
// table and its indexes.

const argAt = process.argv.indexOf('--events');
const N = argAt > 0 ? Number(process.argv[argAt + 1]) : 20_000;
const TABLES = ['events', 'deliveries', 'delivery_attempts', 'delivery_queue'];

async function main(): Promise<void> {
  const db = await freshDb('footprint');
  const receiver = await startReceiver();
  const gen = await startGenerator('generator');
  try {
    const key = await createKey(db, 'PUBLISHER');
    await createWebhooks(db, [`${receiver.url}/ok/fp`]);
    const srv = await startServer({ env: { DATABASE_URL: db.url } });
    const request = {
      url: srv.url,
      token: key,
      query: PUBLISH,
      variables: { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`fp${SEQ}`) } },
    };
    const delivered = async (n: number) =>
      until(
        async () =>
          (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM delivery_attempts`)).rows[0]!.n >= n,
        600_000,
        'deliveries recorded',
        100,
      );
    // Warm-up: the first pages of every table and index exist before measuring.
    await gen.closed({ request, concurrency: 8, requests: 500 });
    await delivered(500);
    const lsn = async () =>
      (await db.pool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
    const from = await lsn();
    const pub = await gen.closed({ request, concurrency: 32, requests: N });
    await delivered(500 + pub.count);
    const to = await lsn();
    const { rows } = await db.pool.query<{ bytes: string }>(`SELECT pg_wal_lsn_diff($2, $1)::bigint AS bytes`, [
      from,
      to,
    ]);
    const wal = Number(rows[0]!.bytes) / pub.count;
    await srv.kill();

    await db.pool.query(`VACUUM ANALYZE ${TABLES.join(', ')}`);
    const out = [
      `footprint of ${pub.count} deliveries (1 webhook; payload ${JSON.stringify(userPayload('fp0')).length} bytes of JSON)`,
      '',
      `WAL per delivery (publish + claim + attempt + result): ${Math.round(wal)} bytes`,
      '',
      '| table | rows | heap + TOAST bytes/row | index bytes/row | indexes |',
      '| --- | ---: | ---: | ---: | --- |',
    ];
    for (const table of TABLES) {
      const r = await db.pool.query<{ n: number; heap: string; idx: string; names: string }>(
        `SELECT (SELECT count(*)::int FROM ${table}) AS n,
                pg_table_size('${table}')::bigint AS heap, pg_indexes_size('${table}')::bigint AS idx,
                (SELECT string_agg(indexname, ', ' ORDER BY indexname) FROM pg_indexes WHERE tablename = '${table}') AS names`,
      );
      const x = r.rows[0]!;
      const per = (b: string) =>
        x.n ? Math.round(Number(b) / x.n).toString() : `${Math.round(Number(b) / 1024)} KiB total`;
      out.push(`| ${table} | ${x.n} | ${per(x.heap)} | ${per(x.idx)} | ${x.names} |`);
    }
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await killAll();
    await db.close();
    await stopDatabase();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`footprint failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
