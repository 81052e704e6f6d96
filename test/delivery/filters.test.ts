import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createWebhook,
  eventually,
  must,
  publish,
  startReceiver,
  startServer,
  uniquePath,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// Subscription filters end to end: saved with the subscription (and shown),
// refused when malformed (nothing stored), and applied by the publishing
// statement: an event that does not match creates no delivery at all.

describe('subscription filters', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('filters');
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('a filtered subscription gets only the events it matches; an unfiltered one gets all', async () => {
    const filter = { course_template: { $in: ['c1', 'c2'] }, state: 'complete' };
    const path = uniquePath('filtered');
    const filtered = await createWebhook(s, { url: `${r.url}${path}`, subs: [['ENROLLMENTS', 'COMPLETE', filter]] });
    const all = await createWebhook(s, { url: `${r.url}${uniquePath('all')}`, subs: [['ENROLLMENTS', 'COMPLETE']] });
    const shown = must(
      await s.gql('query($id: ID!) { webhook(id: $id) { subscriptions { eventType filter } } }', { id: filtered.id }),
      'webhook',
    );
    assert.deepEqual(shown.webhook.subscriptions, [{ eventType: 'enrollment.completed', filter }]);

    const cases: [Record<string, unknown>, boolean][] = [
      [{ id: '1', course_template: 'c1', state: 'complete' }, true],
      [{ id: '2', course_template: 'c3', state: 'complete' }, false],
      [{ id: '3', course_template: 'c2', state: 'failed' }, false],
      [{ id: '4', course_template: 'c2', state: 'complete' }, true],
      [{ id: '5' }, false],
    ];
    const expected: string[] = [];
    for (const [payload, matches] of cases) {
      const ev = await publish(s, 'ENROLLMENTS', 'COMPLETE', payload);
      const to = ev.deliveries.map((d) => d.webhook.id);
      assert.equal(to.includes(filtered.id), matches, `${JSON.stringify(payload)} → filtered webhook`);
      assert.ok(to.includes(all.id), 'the unfiltered webhook gets every event');
      if (matches) expected.push(ev.id);
    }
    await eventually(() => r.received.filter((x) => x.path === path).length === 2, 10_000, 'the matching deliveries');
    assert.deepEqual(
      r.received.filter((x) => x.path === path).map((x) => x.headers['webhook-id']),
      expected,
    );
    const { rows } = await s.db.pool.query('SELECT count(*)::int AS n FROM deliveries WHERE webhook_id = $1', [
      filtered.id,
    ]);
    assert.equal(rows[0].n, 2, 'a filtered-out event leaves no delivery row behind');
  });

  it('a malformed filter is refused with the path at fault, and nothing is stored', async () => {
    const before = (await s.db.pool.query('SELECT count(*)::int AS n FROM webhooks')).rows[0].n as number;
    const res = await s.gql(`mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { id } }`, {
      input: {
        name: 'bad filter',
        destinationUrl: `${r.url}/bad`,
        subscriptions: [
          { resource: 'USERS', action: 'CREATE' },
          { resource: 'USERS', action: 'UPDATE', filter: { $or: [{ email: { $regex: '@x' } }] } },
        ],
      },
    });
    assert.equal(res.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.equal(
      res.errors?.[0]?.message,
      'input.subscriptions[1].filter.$or[0].email.$regex: unknown operator $regex; expected one of $eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists, $not',
    );
    assert.equal((await s.db.pool.query('SELECT count(*)::int AS n FROM webhooks')).rows[0].n, before);
  });

  it('one subscription per (resource, action): a second one, even with another filter, is a conflict that says how to change it', async () => {
    const w = await createWebhook(s, {
      url: `${r.url}${uniquePath('one-filter')}`,
      subs: [['USERS', 'DELETE', { department: 'sales' }]],
    });
    const add = await s.gql(
      `mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: DELETE, filter: {department: "hr"}}]) { id } }`,
      { id: w.id },
    );
    assert.equal(add.errors?.[0]?.extensions?.code, 'CONFLICT');
    assert.match(
      add.errors?.[0]?.message ?? '',
      /already subscribed to user\.deleted; .*combine conditions with \$or.*use setWebhookSubscriptions/,
    );
    const dup = await s.gql(
      `mutation($u: String!) { createWebhook(input: {name: "dup", destinationUrl: $u, subscriptions: [{resource: USERS, action: CREATE}, {resource: USERS, action: CREATE, filter: {a: 1}}]}) { id } }`,
      { u: `${r.url}/dup` },
    );
    assert.match(
      dup.errors?.[0]?.message ?? '',
      /^input\.subscriptions\[1\]: duplicate subscription user\.created: one per event type, with one filter/,
    );
    const remove = await s.gql(
      `mutation($id: ID!) { removeWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: DELETE, filter: {department: "sales"}}]) { id } }`,
      { id: w.id },
    );
    assert.equal(
      remove.errors?.[0]?.message,
      'subscriptions[0].filter: is not used here: a subscription is removed by its resource and action',
    );
  });

  it('setWebhookSubscriptions changes a filter in place, adds and removes in one transaction; a bad filter changes nothing', async () => {
    const path = uniquePath('set');
    const w = await createWebhook(s, {
      url: `${r.url}${path}`,
      subs: [
        ['USERS', 'DELETE', { department: 'sales' }],
        ['USERS', 'CREATE'],
      ],
    });
    const SET = `mutation($id: ID!, $subs: [SubscriptionInput!]!) {
      setWebhookSubscriptions(webhookId: $id, subscriptions: $subs) { subscriptions { id eventType filter } }
    }`;
    const read = async () =>
      must(
        await s.gql('query($id: ID!) { webhook(id: $id) { subscriptions { id eventType filter } } }', { id: w.id }),
        'webhook',
      ).webhook.subscriptions as { id: string; eventType: string; filter: unknown }[];
    const before = await read();
    const deletedId = before.find((x) => x.eventType === 'user.deleted')!.id;

    const set = must(
      await s.gql(SET, {
        id: w.id,
        subs: [
          { resource: 'USERS', action: 'DELETE', filter: { department: 'hr' } },
          { resource: 'ENROLLMENTS', action: 'COMPLETE' },
        ],
      }),
      'set',
    ).setWebhookSubscriptions.subscriptions as { id: string; eventType: string; filter: unknown }[];
    const byType = Object.fromEntries(set.map((x) => [x.eventType, x]));
    assert.deepEqual(Object.keys(byType).sort(), ['enrollment.completed', 'user.deleted']);
    assert.deepEqual(byType['user.deleted']!.filter, { department: 'hr' });
    assert.equal(byType['user.deleted']!.id, deletedId, 'the filter changed in place: never a moment unsubscribed');

    const hr = await publish(s, 'USERS', 'DELETE', { id: 'u-hr', department: 'hr' });
    const sales = await publish(s, 'USERS', 'DELETE', { id: 'u-sales', department: 'sales' });
    assert.equal(hr.deliveries.filter((d) => d.webhook.id === w.id).length, 1);
    assert.equal(sales.deliveries.filter((d) => d.webhook.id === w.id).length, 0);
    await eventually(() => r.received.some((m) => m.path === path && m.body.includes('u-hr')) || undefined);

    const bad = await s.gql(SET, {
      id: w.id,
      subs: [
        { resource: 'USERS', action: 'CREATE' },
        { resource: 'USERS', action: 'DELETE', filter: { $bogus: 1 } },
      ],
    });
    assert.equal(bad.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.match(bad.errors?.[0]?.message ?? '', /^subscriptions\[1\]\.filter/);
    assert.deepEqual(await read(), set, 'a refused set changes nothing');

    const audit = await s.db.pool.query(
      `SELECT changes FROM audit_log WHERE target_id = $1 AND action = 'webhook.subscriptions_set'`,
      [w.id],
    );
    assert.equal(audit.rows.length, 1);
    assert.deepEqual(audit.rows[0].changes, {
      subscriptions: { old: ['user.created', 'user.deleted'], new: ['enrollment.completed', 'user.deleted'] },
      filters: { old: { 'user.deleted': { department: 'sales' } }, new: { 'user.deleted': { department: 'hr' } } },
    });
    must(
      await s.gql(SET, {
        id: w.id,
        subs: [
          { resource: 'USERS', action: 'DELETE', filter: { department: 'hr' } },
          { resource: 'ENROLLMENTS', action: 'COMPLETE' },
        ],
      }),
      'same',
    );
    const again = await s.db.pool.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE target_id = $1 AND action = 'webhook.subscriptions_set'`,
      [w.id],
    );
    assert.equal(again.rows[0].n, 1, 'setting the same list changes nothing and audits nothing');

    must(await s.gql(SET, { id: w.id, subs: [] }), 'empty');
    assert.deepEqual(await read(), []);
  });

  it('the audit log shows a subscription’s filter', async () => {
    const w = await createWebhook(s, {
      url: `${r.url}${uniquePath('audit-filter')}`,
      subs: [['COURSES', 'CREATE', { is_published: true }]],
    });
    const { rows } = await s.db.pool.query(
      `SELECT changes FROM audit_log WHERE target_id = $1 AND action = 'webhook.created'`,
      [w.id],
    );
    assert.deepEqual(rows[0].changes.filters, { new: { 'course.created': { is_published: true } } });
  });
});
