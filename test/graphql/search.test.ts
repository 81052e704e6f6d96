import { after, before, describe, it } from 'node:test';
import { EVERY_ACCOUNT } from '../../src/domain/accounts.js';
import assert from 'node:assert/strict';
import { DeliveryQueries } from '../../src/services/deliveries.js';
import { createDataSource } from '../../src/storage/data-source.js';
import { createWebhook, must, publish, startServer, type TestServer } from '../kit/index.js';

// Search by object: Event.objectId, and objectId on events(...) and
// deliveries(...): "every delivery about enrollment 42, to every webhook", one
// indexed query.

describe('search by object id', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer('search', { env: { HOOKLINE_WORKER: 'false' } });
  });
  after(async () => {
    await s.stop();
  });

  it('finds every event and every delivery about an object, newest first, across webhooks', async () => {
    const a = await createWebhook(s, { url: 'http://127.0.0.1:9/a', subs: [['ENROLLMENTS', 'UPDATE']] });
    const b = await createWebhook(s, {
      url: 'http://127.0.0.1:9/b',
      subs: [
        ['ENROLLMENTS', 'UPDATE'],
        ['USERS', 'UPDATE'],
      ],
    });
    const e1 = await publish(s, 'ENROLLMENTS', 'UPDATE', { id: 42, state: 'active' });
    await publish(s, 'ENROLLMENTS', 'UPDATE', { id: 43 });
    const e2 = await publish(s, 'ENROLLMENTS', 'UPDATE', { id: '42', state: 'complete' });
    const u = await publish(s, 'USERS', 'UPDATE', { id: '42' });

    const events = must(
      await s.gql('{ events(objectId: "42") { edges { node { id objectId resource } } } }'),
      'events',
    ).events.edges.map((x: { node: { id: string; objectId: string } }) => x.node);
    assert.deepEqual(
      events.map((x: { id: string }) => x.id),
      [u.id, e2.id, e1.id],
      'newest first; a numeric id and its string are the same object id',
    );
    assert.ok(events.every((x: { objectId: string }) => x.objectId === '42'));

    const enrollments = must(
      await s.gql('{ events(objectId: "42", resource: ENROLLMENTS) { edges { node { id } } } }'),
      'events',
    ).events.edges.map((x: { node: { id: string } }) => x.node.id);
    assert.deepEqual(enrollments, [e2.id, e1.id]);

    const deliveries = must(
      await s.gql('{ deliveries(objectId: "42", first: 10) { edges { node { event { id } webhook { id } } } } }'),
      'deliveries',
    ).deliveries.edges.map((x: { node: { event: { id: string }; webhook: { id: string } } }) => [
      x.node.event.id,
      x.node.webhook.id,
    ]);
    assert.deepEqual(
      deliveries.sort(),
      [
        [e1.id, a.id],
        [e1.id, b.id],
        [e2.id, a.id],
        [e2.id, b.id],
        [u.id, b.id],
      ].sort(),
    );
    const toA = must(
      await s.gql('query($w: ID!) { deliveries(objectId: "42", webhookId: $w) { edges { node { event { id } } } } }', {
        w: a.id,
      }),
      'deliveries',
    ).deliveries.edges.map((x: { node: { event: { id: string } } }) => x.node.event.id);
    assert.deepEqual(toA, [e2.id, e1.id]);
    const byType = (q: string) =>
      s
        .gql(q)
        .then((res) =>
          must(res, 'deliveries').deliveries.edges.map((x: { node: { event: { type: string } } }) => x.node.event.type),
        );
    assert.deepEqual(await byType('{ deliveries(resource: USERS) { edges { node { event { type } } } } }'), [
      'user.updated',
    ]);
    assert.deepEqual(
      await byType(
        '{ deliveries(objectId: "42", resource: ENROLLMENTS, action: UPDATE) { edges { node { event { type } } } } }',
      ),
      ['enrollment.updated', 'enrollment.updated', 'enrollment.updated', 'enrollment.updated'],
    );
    assert.deepEqual(
      await byType('{ deliveries(resource: ENROLLMENTS, action: DELETE) { edges { node { id } } } }'),
      [],
    );

    const none = must(await s.gql('{ deliveries(objectId: "nobody") { edges { node { id } } } }'), 'deliveries');
    assert.deepEqual(none.deliveries.edges, []);
    const bad = await s.gql(`{ events(objectId: "") { edges { node { id } } } }`);
    assert.equal(
      bad.errors?.[0]?.message,
      'objectId: expected 1 to 255 characters without NUL (the payload\'s id, e.g. "42")',
    );
  });

  it('deliveries(objectId) and events(objectId) go through events_object (EXPLAIN of the statements their queries send)', async () => {
    const statements = await captured(s, async (queries) => {
      await queries.deliveries(EVERY_ACCOUNT, { objectId: '42' }, 20, null);
      await queries.events(EVERY_ACCOUNT, { objectId: '42', resource: 'ENROLLMENTS' }, 20, null);
    });
    const byObject = statements.filter(([sql]) => sql.includes(`->> 'id'`));
    assert.equal(byObject.length >= 2, true, JSON.stringify(statements));
    const client = await s.db.pool.connect();
    try {
      // Small tables here: forbid the plans a small table invites, to ask whether the index can answer.
      await client.query('SET enable_seqscan = off');
      for (const [sql, params] of byObject) {
        const { rows } = await client.query(`EXPLAIN ${sql}`, params);
        const plan = rows.map((x: Record<string, string>) => x['QUERY PLAN']).join('\n');
        assert.match(plan, /Index Scan (using|on) events_object/, `${sql}\n${plan}`);
        if (sql.includes('"deliveries"')) assert.match(plan, /Index Scan (using|on) deliveries_event_webhook/, plan);
      }
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });
});

describe("an account's deliveries without naming a webhook", () => {
  let s: TestServer;
  const big = '00000000-0000-4000-8000-00000000b19a';
  const small = '00000000-0000-4000-8000-0000000005aa';
  before(async () => {
    s = await startServer('scoped_list', { env: { HOOKLINE_WORKER: 'false' } });
    for (const [id, key] of [
      [big, 'big'],
      [small, 'small'],
    ])
      await s.db.pool.query(`INSERT INTO accounts (id, key, name) VALUES ($1, $2, $2)`, [id, key]);
  });
  after(async () => {
    await s.stop();
  });

  /** `count` deliveries to a new webhook of the account, `ageSeconds` old, every `status`-th one FAILED. */
  async function history(account: string, count: number, ageSeconds: number): Promise<string> {
    const { rows } = await s.db.pool.query<{ id: string }>(
      `INSERT INTO webhooks (account_id, name, destination_url) VALUES ($1, 'h', 'http://127.0.0.1:9/') RETURNING id`,
      [account],
    );
    const webhook = rows[0]!.id;
    await s.db.pool.query(
      `WITH ev AS (
         INSERT INTO events (account_id, resource, action, type, payload, occurred_at, created_at)
         SELECT $1, CASE WHEN n % 2 = 0 THEN 'USERS' ELSE 'COURSES' END, 'CREATE',
                CASE WHEN n % 2 = 0 THEN 'user.created' ELSE 'course.created' END,
                jsonb_build_object('id', n::text), now(), now() - $3 * interval '1 second' + n * interval '1 ms'
         FROM generate_series(1, $2) n RETURNING id, created_at, resource
       )
       INSERT INTO deliveries (event_id, webhook_id, status, created_at)
       SELECT id, $4, CASE WHEN resource = 'USERS' THEN 'FAILED' ELSE 'SUCCEEDED' END, created_at FROM ev`,
      [account, count, ageSeconds, webhook],
    );
    return webhook;
  }

  it("reads the account's own deliveries only, newest first across its webhooks: its cost does not grow with another account's history", async () => {
    // As many rows as the big account's, all older: to the planner, a walk of every account's deliveries
    // newest first looks as if it would fill a page at once; it would read the big account's 3,000 first.
    await history(big, 3000, 60);
    await history(small, 1500, 3600);
    await history(small, 1500, 1800);
    await s.db.pool.query('ANALYZE deliveries, events, webhooks');
    const scope = { accountId: small };
    const expected = (
      await s.db.pool.query<{ id: string; status: string }>(
        `SELECT d.id, d.status FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE w.account_id = $1 ORDER BY d.created_at DESC, d.id DESC`,
        [small],
      )
    ).rows;
    const statements = await captured(s, async (queries) => {
      const first = await queries.deliveries(scope, {}, 5, null);
      assert.deepEqual(
        first.items.map((d) => d.id),
        expected.slice(0, 5).map((d) => d.id),
      );
      assert.equal(first.hasNextPage, true);
      const last = first.items.at(-1)!;
      const rest = await queries.deliveries(scope, {}, 20, { createdAt: last.createdAt, id: last.id });
      assert.deepEqual(
        rest.items.map((d) => d.id),
        expected.slice(5, 25).map((d) => d.id),
      );
      const failed = await queries.deliveries(scope, { status: 'FAILED', resource: 'USERS' }, 20, null);
      assert.deepEqual(
        failed.items.map((d) => d.id),
        expected
          .filter((d) => d.status === 'FAILED')
          .slice(0, 20)
          .map((d) => d.id),
      );
    });
    const client = await s.db.pool.connect();
    try {
      for (const [sql, params] of statements.filter(([q]) => q.includes('"deliveries"'))) {
        const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
        const read = (node: Record<string, unknown>): number =>
          (String(node['Relation Name'] ?? '') === 'deliveries'
            ? Number(node['Actual Rows']) * Number(node['Actual Loops'])
            : 0) + ((node['Plans'] as Record<string, unknown>[] | undefined) ?? []).reduce((n, c) => n + read(c), 0);
        const rowsRead = read(rows[0]['QUERY PLAN'][0].Plan);
        assert.ok(rowsRead <= 400, `${rowsRead} deliveries read for a page of at most 20\n${sql}`);
      }
    } finally {
      client.release();
    }
  });
});

/** The SQL (with parameters) that the queries behind deliveries(...) and events(...) send while `fn` runs. */
async function captured(
  s: TestServer,
  fn: (queries: DeliveryQueries) => Promise<void>,
): Promise<[string, unknown[]][]> {
  const seen: [string, unknown[]][] = [];
  const ds = createDataSource(s.db.url, 1);
  ds.setOptions({
    logger: {
      logQuery: (query, parameters) => void seen.push([query, (parameters as unknown[] | undefined) ?? []]),
      logQueryError: () => undefined,
      logQuerySlow: () => undefined,
      logSchemaBuild: () => undefined,
      logMigration: () => undefined,
      log: () => undefined,
    },
  });
  await ds.initialize();
  try {
    await fn(new DeliveryQueries(ds));
  } finally {
    await ds.destroy();
  }
  return seen;
}
