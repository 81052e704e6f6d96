import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import { createDataSource, migrate, pendingMigrations } from '../../src/storage/data-source.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { Initial1764380000000 } from '../../migrations/1764380000000-Initial.js';
import { isSealed, parseKeyring } from '../../src/domain/secret-box.js';
import { SCHEMA_TABLES, TEST_SECRET_KEYS, freshDatabase, openStored, type TestDatabase } from '../kit/index.js';

// The migrations from an empty database: what they create, that they are
// idempotent, the constraints and indexes the code relies on, and down/up.

const NAMES = MIGRATIONS.map((M) => new M().name);
const KEYRING = parseKeyring(TEST_SECRET_KEYS);
const TABLES = SCHEMA_TABLES;
const APP_TABLES = TABLES.filter((t) => t !== 'migrations');

describe('migrations', () => {
  let db: TestDatabase;
  let ds: DataSource;

  const tables = async (): Promise<string[]> =>
    (
      await db.pool.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      )
    ).rows.map((r) => r.table_name as string);

  before(async () => {
    db = await freshDatabase('migrations', { migrated: false });
    ds = createDataSource(db.url, 2);
    await ds.initialize();
  });
  after(async () => {
    await ds?.destroy();
    await db?.close();
  });

  it('starts from an empty database with migrations pending', async () => {
    assert.deepEqual(await tables(), []);
    assert.equal(await pendingMigrations(ds), true);
  });

  it('creates every table', async () => {
    const applied = await migrate(ds, KEYRING);
    assert.deepEqual(applied, NAMES);
    assert.deepEqual(await tables(), TABLES);
    assert.equal(await pendingMigrations(ds), false);
    const { rows } = await db.pool.query('SELECT name FROM migrations');
    assert.deepEqual(
      rows.map((r) => r.name),
      NAMES,
    );
  });

  it('running again applies nothing and changes nothing', async () => {
    assert.deepEqual(await migrate(ds, KEYRING), []);
    assert.deepEqual(await tables(), TABLES);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM migrations');
    assert.equal(rows[0].n, NAMES.length);
  });

  it('webhook_subscriptions_unique rejects a duplicate (webhook, resource, action)', async () => {
    const w = await db.pool.query(
      `INSERT INTO webhooks (account_id, name, destination_url) VALUES ('00000000-0000-4000-8000-000000000001', 'm', 'https://example.com/') RETURNING id`,
    );
    const id = w.rows[0].id as string;
    await db.pool.query(
      `INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action) VALUES ('00000000-0000-4000-8000-000000000001', $1, 'USERS', 'CREATE')`,
      [id],
    );
    await assert.rejects(
      db.pool.query(
        `INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action) VALUES ('00000000-0000-4000-8000-000000000001', $1, 'USERS', 'CREATE')`,
        [id],
      ),
      (e: { code?: string; constraint?: string }) =>
        e.code === '23505' && e.constraint === 'webhook_subscriptions_unique',
    );
    // Another action, or the same pair on another webhook, is fine.
    await db.pool.query(
      `INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action) VALUES ('00000000-0000-4000-8000-000000000001', $1, 'USERS', 'UPDATE')`,
      [id],
    );
    const w2 = await db.pool.query(
      `INSERT INTO webhooks (account_id, name, destination_url) VALUES ('00000000-0000-4000-8000-000000000001', 'm2', 'https://example.com/') RETURNING id`,
    );
    await db.pool.query(
      `INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action) VALUES ('00000000-0000-4000-8000-000000000001', $1, 'USERS', 'CREATE')`,
      [w2.rows[0].id],
    );
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM webhook_subscriptions');
    assert.equal(rows[0].n, 3);
  });

  it('other constraints the code relies on', async () => {
    const reject = (sql: string, code: string) =>
      assert.rejects(db.pool.query(sql), (e: { code?: string }) => e.code === code, sql);
    await reject(
      `INSERT INTO webhooks (account_id, name, destination_url, status) VALUES ('00000000-0000-4000-8000-000000000001', 'x', 'https://e.com/', 'BROKEN')`,
      '23514',
    );
    await reject(
      `INSERT INTO webhooks (account_id, name, destination_url) VALUES ('00000000-0000-4000-8000-000000000001', '', 'https://e.com/')`,
      '23514',
    );
    await reject(`INSERT INTO api_keys (name, role, token_hash) VALUES ('k', 'ROOT', 'h')`, '23514');
    await db.pool.query(`INSERT INTO api_keys (name, role, token_hash) VALUES ('k', 'VIEWER', 'same-hash')`);
    await reject(`INSERT INTO api_keys (name, role, token_hash) VALUES ('k2', 'VIEWER', 'same-hash')`, '23505');
    const ev = `INSERT INTO events (account_id, resource, action, type, payload, occurred_at, idempotency_key) VALUES ('00000000-0000-4000-8000-000000000001', 'USERS', 'CREATE', 'user.created', '{}', now(), 'k-1')`;
    await db.pool.query(ev);
    await reject(ev, '23505');
    // Defaults: millisecond created_at (cursors compare exactly), ACTIVE status.
    const { rows } = await db.pool.query(
      `INSERT INTO webhooks (account_id, name, destination_url) VALUES ('00000000-0000-4000-8000-000000000001', 'd', 'https://e.com/') RETURNING status, consecutive_failures, created_at = date_trunc('milliseconds', created_at) AS ms`,
    );
    assert.deepEqual(rows[0], { status: 'ACTIVE', consecutive_failures: 0, ms: true });
  });

  it('the queue: delivery_queue_due is exactly the due condition and serves the claim scan; no index of the log covers what its last write changes', async () => {
    const idx = await db.pool.query(
      `SELECT indexdef FROM pg_indexes WHERE tablename = 'delivery_queue' AND indexname = 'delivery_queue_due'`,
    );
    assert.equal(idx.rows.length, 1, 'delivery_queue_due is missing');
    assert.match(
      idx.rows[0].indexdef,
      /\(account_id, next_attempt_at\) WHERE \(\(next_attempt_at IS NOT NULL\) AND \(NOT held\)\)/,
    );
    const client = await db.pool.connect();
    try {
      // On an empty table the planner would rather scan; the question is whether the index can answer.
      await client.query('SET enable_seqscan = off');
      const plan = async (sql: string) =>
        (await client.query(`EXPLAIN ${sql}`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      // The claim's two reads (storage/sql/deliveries.ts): the next account with waiting rows and its
      // oldest, one descent; then that account's due rows, oldest first.
      const next = await plan(
        `SELECT account_id, next_attempt_at FROM delivery_queue
         WHERE next_attempt_at IS NOT NULL AND NOT held AND account_id > '00000000-0000-4000-8000-000000000000'
         ORDER BY account_id, next_attempt_at LIMIT 1`,
      );
      assert.match(next, /Index Only Scan using delivery_queue_due/, next);
      assert.doesNotMatch(next, /Sort/, next);
      const claim = await plan(
        `SELECT delivery_id, webhook_id, next_attempt_at FROM delivery_queue
         WHERE account_id = '00000000-0000-4000-8000-000000000001' AND next_attempt_at <= now() AND NOT held
           AND webhook_id <> ALL ('{}'::uuid[])
         ORDER BY next_attempt_at LIMIT 400`,
      );
      assert.match(claim, /Index Scan using delivery_queue_due/, claim);
      assert.doesNotMatch(claim, /Sort/, claim);
      // PER_OBJECT: "is an earlier delivery of this object still queued?" is one probe of delivery_queue_object.
      const earlier = await plan(
        `SELECT 1 FROM delivery_queue p
         WHERE p.webhook_id = '00000000-0000-4000-8000-000000000000' AND p.object_key = 'COURSES:42' AND p.seq < 7`,
      );
      assert.match(earlier, /delivery_queue_object/, earlier);
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
    // HOT needs the finishing update to change no indexed column: none of these may be in an index of deliveries.
    const { rows } = await db.pool.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE i.indrelid = 'deliveries'::regclass`,
    );
    const indexed = new Set(rows.map((r) => r.attname as string));
    for (const column of ['status', 'attempt_count', 'next_attempt_at', 'last_attempt_at']) {
      assert.ok(!indexed.has(column), `deliveries.${column} is indexed: its finishing update could not be HOT`);
    }
  });

  it('migrates down to nothing and up again', async () => {
    for (let i = 0; i < NAMES.length; i++) await ds.undoLastMigration({ transaction: 'each' });
    assert.deepEqual(await tables(), ['migrations']);
    assert.equal(await pendingMigrations(ds), true);
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM migrations');
    assert.equal(rows[0].n, 0);

    assert.deepEqual(await migrate(ds, KEYRING), NAMES);
    assert.deepEqual(await tables(), TABLES);
    for (const t of APP_TABLES) {
      const r = await db.pool.query(`SELECT count(*)::int AS n FROM ${t}`);
      // The default account is made by the migration itself.
      assert.equal(r.rows[0].n, t === 'accounts' ? 1 : 0, `${t} is empty after down/up`);
    }
    const idx = await db.pool.query(
      `SELECT indexname FROM pg_indexes WHERE indexname IN ('delivery_queue_due', 'webhooks_page', 'events_idempotency_key')`,
    );
    assert.equal(idx.rows.length, 3);
    const c = await db.pool.query(`SELECT conname FROM pg_constraint WHERE conname = 'webhook_subscriptions_unique'`);
    assert.equal(c.rows.length, 1);
  });
});

describe('the secrets migration', () => {
  let db: TestDatabase;
  after(async () => {
    await db?.close();
  });

  it('seals the plain-text secrets stored before it, each bound to its row and column', async () => {
    db = await freshDatabase('migrations_seal', { migrated: false });
    // The database as it was before: only the first migration, plain-text secrets.
    const old = createDataSource(db.url, 1);
    old.setOptions({ migrations: [Initial1764380000000] });
    await old.initialize();
    await migrate(old);
    await old.destroy();
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO webhooks (name, destination_url, bearer_token, hmac_secret)
       VALUES ('a', 'https://example.com/a', 'plain-bearer', 'plain-hmac'), ('b', 'https://example.com/b', NULL, 'only-hmac')
       RETURNING id`,
    );

    const ds = createDataSource(db.url, 1);
    await ds.initialize();
    await assert.rejects(migrate(ds), /needs the secret keys/, 'without keys the migration refuses to run');
    assert.deepEqual(await migrate(ds, KEYRING), NAMES.slice(1));
    await ds.destroy();

    const after = await db.pool.query('SELECT id, bearer_token, hmac_secret FROM webhooks ORDER BY name');
    const [a, b] = after.rows;
    assert.ok(isSealed(a.bearer_token) && isSealed(a.hmac_secret) && isSealed(b.hmac_secret));
    assert.equal(b.bearer_token, null);
    assert.equal(openStored('bearer_token', rows[0]!.id, a.bearer_token), 'plain-bearer');
    assert.equal(openStored('hmac_secret', rows[0]!.id, a.hmac_secret), 'plain-hmac');
    assert.equal(openStored('hmac_secret', rows[1]!.id, b.hmac_secret), 'only-hmac');
    assert.throws(() => openStored('hmac_secret', rows[1]!.id, a.hmac_secret), /does not open/, 'another row');
    assert.throws(() => openStored('bearer_token', rows[0]!.id, a.hmac_secret), /does not open/, 'another column');
  });
});

describe('migrations started by several instances at once', () => {
  it('one applies them, the others wait and find nothing pending; no migration runs twice', async () => {
    const db = await freshDatabase('migrations_race', { migrated: false });
    // One connection each, as a DataSource of one (the lock must not need a second from the pool).
    const sources = Array.from({ length: 3 }, () => createDataSource(db.url, 1));
    try {
      await Promise.all(sources.map((s) => s.initialize()));
      const applied = await Promise.all(sources.map((s) => migrate(s, KEYRING)));
      assert.deepEqual(applied.flat().sort(), [...NAMES].sort(), 'each migration applied exactly once');
      assert.equal(applied.filter((a) => a.length > 0).length, 1, 'by one of them');
      const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM migrations');
      assert.equal(rows[0].n, NAMES.length);
    } finally {
      await Promise.all(sources.map((s) => s.destroy().catch(() => undefined)));
      await db.close();
    }
  });
});
