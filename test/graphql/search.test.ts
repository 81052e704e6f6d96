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
    assert.equal(bad.errors?.[0]?.message, 'objectId: expected 1 to 255 characters (the payload\'s id, e.g. "42")');
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
