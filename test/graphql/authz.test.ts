import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { codes, startServer, type GqlResult, type TestServer } from '../kit/index.js';

// The authorization matrix: every query and mutation of the public API against
// every kind of caller. Ids are random UUIDs, so an allowed caller that gets
// past authorization typically ends at NOT_FOUND (or null), which proves the
// resolver ran; the denied ones must stop at UNAUTHENTICATED / FORBIDDEN.
// The fields below the roots, for every role: authz-walk.test.ts.

type Caller = 'NONE' | 'BAD' | 'VIEWER' | 'PUBLISHER' | 'SUPPORT';
type Role = 'VIEWER' | 'PUBLISHER' | 'SUPPORT';

interface Operation {
  name: string;
  /** Builds the document and variables; called once per caller so created names do not collide. */
  build: () => { query: string; variables?: Record<string, unknown> };
  allowed: readonly Role[];
  /** The error code (if any) an allowed caller gets with these arguments. */
  allowedCode?: 'NOT_FOUND';
}

const ALL: readonly Role[] = ['SUPPORT', 'PUBLISHER', 'VIEWER'];
const READERS: readonly Role[] = ['SUPPORT', 'VIEWER'];
const SUPPORT_ONLY: readonly Role[] = ['SUPPORT'];
const PUBLISHERS: readonly Role[] = ['SUPPORT', 'PUBLISHER'];

const uid = () => randomUUID();
const suffix = () => randomBytes(3).toString('hex');

const OPERATIONS: Operation[] = [
  // Queries
  { name: 'viewer', build: () => ({ query: '{ viewer { id role } }' }), allowed: ALL },
  { name: 'resources', build: () => ({ query: '{ resources { type eventTypes } }' }), allowed: ALL },
  {
    name: 'webhooks',
    build: () => ({ query: '{ webhooks(first: 5) { totalCount edges { node { id } } } }' }),
    allowed: READERS,
  },
  {
    name: 'webhook',
    build: () => ({ query: 'query($id: ID!) { webhook(id: $id) { id } }', variables: { id: uid() } }),
    allowed: READERS,
  },
  { name: 'events', build: () => ({ query: '{ events(first: 5) { edges { node { id } } } }' }), allowed: READERS },
  {
    name: 'event',
    build: () => ({ query: 'query($id: ID!) { event(id: $id) { id } }', variables: { id: uid() } }),
    allowed: READERS,
  },
  {
    name: 'deliveries',
    build: () => ({ query: '{ deliveries(first: 5) { edges { node { id } } } }' }),
    allowed: READERS,
  },
  {
    name: 'delivery',
    build: () => ({ query: 'query($id: ID!) { delivery(id: $id) { id } }', variables: { id: uid() } }),
    allowed: READERS,
  },
  { name: 'apiKeys', build: () => ({ query: '{ apiKeys { id role } }' }), allowed: SUPPORT_ONLY },
  {
    name: 'auditLog',
    build: () => ({ query: '{ auditLog(first: 5) { edges { node { id } } } }' }),
    allowed: SUPPORT_ONLY,
  },
  { name: 'accounts', build: () => ({ query: '{ accounts(first: 2) { totalCount } }' }), allowed: READERS },
  { name: 'account', build: () => ({ query: '{ account(key: "default") { id key } }' }), allowed: READERS },
  // Mutations
  {
    name: 'createWebhook',
    build: () => ({
      query:
        'mutation($n: String!) { createWebhook(input: {name: $n, destinationUrl: "http://127.0.0.1:9/hook", subscriptions: [{resource: USERS, action: CREATE}]}) { id } }',
      variables: { n: `authz ${suffix()}` },
    }),
    allowed: SUPPORT_ONLY,
  },
  {
    name: 'updateWebhook',
    build: () => ({
      query: 'mutation($id: ID!) { updateWebhook(id: $id, input: {name: "renamed"}) { id } }',
      variables: { id: uid() },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'deleteWebhook',
    build: () => ({ query: 'mutation($id: ID!) { deleteWebhook(id: $id) }', variables: { id: uid() } }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'pauseWebhook',
    build: () => ({ query: 'mutation($id: ID!) { pauseWebhook(id: $id) { id } }', variables: { id: uid() } }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'resumeWebhook',
    build: () => ({ query: 'mutation($id: ID!) { resumeWebhook(id: $id) { id } }', variables: { id: uid() } }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'addWebhookSubscriptions',
    build: () => ({
      query:
        'mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: UPDATE}]) { id } }',
      variables: { id: uid() },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'setWebhookSubscriptions',
    build: () => ({
      query:
        'mutation($id: ID!) { setWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: UPDATE}]) { id } }',
      variables: { id: uid() },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'removeWebhookSubscriptions',
    build: () => ({
      query:
        'mutation($id: ID!) { removeWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: UPDATE}]) { id } }',
      variables: { id: uid() },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'redeliver',
    build: () => ({ query: 'mutation($id: ID!) { redeliver(deliveryId: $id) { id } }', variables: { id: uid() } }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'sendTestEvent',
    build: () => ({ query: 'mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }', variables: { id: uid() } }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'retryFailedDeliveries',
    build: () => ({
      query: 'mutation($id: ID!, $since: DateTimeISO!) { retryFailedDeliveries(webhookId: $id, since: $since) }',
      variables: { id: uid(), since: '2020-01-01T00:00:00.000Z' },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'replayDeliveries',
    build: () => ({
      query:
        'mutation($id: ID!, $since: DateTimeISO!) { replayDeliveries(webhookId: $id, since: $since, dryRun: true) { count } }',
      variables: { id: uid(), since: new Date(Date.now() - 3_600_000).toISOString() },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'createApiKey',
    build: () => ({
      query: 'mutation($n: String!) { createApiKey(name: $n, role: VIEWER) { apiKey { id } } }',
      variables: { n: `authz ${suffix()}` },
    }),
    allowed: SUPPORT_ONLY,
  },
  {
    name: 'rotateWebhookSecret',
    build: () => ({
      query: 'mutation($id: ID!) { rotateWebhookSecret(webhookId: $id) { secret } }',
      variables: { id: uid() },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'revokeApiKey',
    build: () => ({ query: 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', variables: { id: uid() } }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'createAccount',
    build: () => ({
      query: 'mutation($key: String!) { createAccount(input: {key: $key, name: "matrix"}) { id } }',
      variables: { key: `matrix-${uid()}` },
    }),
    allowed: SUPPORT_ONLY,
  },
  {
    name: 'updateAccount',
    build: () => ({
      query: 'mutation($id: ID!) { updateAccount(id: $id, input: {name: "x"}) { id } }',
      variables: { id: uid() },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'eraseObject',
    build: () => ({
      query: 'mutation { eraseObject(resource: USERS, objectId: "nobody", dryRun: true) { events } }',
    }),
    allowed: SUPPORT_ONLY,
  },
  {
    name: 'deleteAccount',
    build: () => ({
      query: 'mutation($id: ID!) { deleteAccount(id: $id, confirmKey: "x") }',
      variables: { id: uid() },
    }),
    allowed: SUPPORT_ONLY,
    allowedCode: 'NOT_FOUND',
  },
  {
    name: 'publishEvent',
    build: () => ({
      query:
        'mutation($p: JSONObject!) { publishEvent(input: {resource: USERS, action: CREATE, payload: $p}) { id type } }',
      variables: { p: { id: `u-${suffix()}` } },
    }),
    allowed: PUBLISHERS,
  },
  {
    name: 'publishEvents',
    build: () => ({
      query:
        'mutation($p: JSONObject!) { publishEvents(inputs: [{resource: USERS, action: CREATE, payload: $p}]) { id } }',
      variables: { p: { id: `u-${suffix()}` } },
    }),
    allowed: PUBLISHERS,
  },
];

const CALLERS: readonly Caller[] = ['NONE', 'BAD', 'VIEWER', 'PUBLISHER', 'SUPPORT'];

function expected(op: Operation, caller: Caller): string | undefined {
  if (caller === 'NONE' || caller === 'BAD') return 'UNAUTHENTICATED';
  if (!op.allowed.includes(caller)) return 'FORBIDDEN';
  return op.allowedCode;
}

function show(r: GqlResult): string {
  return JSON.stringify(r);
}

describe('authorization matrix', () => {
  let s: TestServer;
  // A token of the right shape that no key has.
  const badToken = `hkl_${randomBytes(32).toString('base64url')}`;

  before(async () => {
    // No worker: nothing here needs sending, and no request should leave the machine.
    s = await startServer('authz', { env: { HOOKLINE_WORKER: 'false' } });
  });
  after(async () => {
    await s.stop();
  });

  const tokenFor = (caller: Caller): string | null => (caller === 'NONE' ? null : caller === 'BAD' ? badToken : caller);

  it('covers every query and mutation of the contract', async () => {
    // Guard against the table silently missing an operation that the server exposes.
    const r = await s.gql(
      '{ __schema { queryType { fields { name } } mutationType { fields { name } } } }',
      {},
      'SUPPORT',
    );
    const exposed = [...r.data.__schema.queryType.fields, ...r.data.__schema.mutationType.fields]
      .map((f: { name: string }) => f.name)
      .sort();
    assert.deepEqual(exposed, OPERATIONS.map((o) => o.name).sort());
  });

  for (const op of OPERATIONS) {
    for (const caller of CALLERS) {
      const want = expected(op, caller);
      it(`${op.name} as ${caller} → ${want ?? 'ok'}`, async () => {
        const { query, variables } = op.build();
        const r = await s.gql(query, variables, tokenFor(caller));
        const got = codes(r);
        if (want === 'UNAUTHENTICATED' || want === 'FORBIDDEN') {
          assert.equal(got[0], want, show(r));
          assert.equal(r.errors!.length, 1, show(r));
          // The denied field resolved to nothing: no partial data leaks.
          assert.ok(r.data == null || r.data[op.name] == null, show(r));
        } else if (want === 'NOT_FOUND') {
          assert.deepEqual(got, ['NOT_FOUND'], show(r));
        } else {
          assert.equal(r.errors, undefined, show(r));
          assert.ok(r.data && op.name in r.data, show(r));
        }
      });
    }
  }

  it('answers allowed reads with real data (viewer names the caller)', async () => {
    for (const role of ALL) {
      const r = await s.gql('{ viewer { role name } }', {}, role);
      assert.equal(r.data?.viewer.role, role, show(r));
      assert.equal(r.data?.viewer.name, `test ${role}`);
    }
  });

  it('refuses an Authorization header that is not a Bearer token', async () => {
    for (const authorization of [
      `Basic ${Buffer.from('a:b').toString('base64')}`,
      s.keys.SUPPORT,
      'Bearer',
      `Bearer ${s.keys.SUPPORT} extra`,
    ]) {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      });
      const body = (await res.json()) as GqlResult;
      assert.deepEqual(codes(body), ['UNAUTHENTICATED'], `${authorization}: ${show(body)}`);
    }
  });

  it('refuses a revoked key immediately after revokeApiKey', async () => {
    const c = await s.gql('mutation { createApiKey(name: "to revoke", role: SUPPORT) { apiKey { id } token } }');
    const { apiKey, token } = c.data.createApiKey;
    // Use it first, so that any cache of the key is warm.
    const before = await s.gql('{ viewer { id } webhooks(first: 1) { totalCount } }', {}, token);
    assert.equal(before.data?.viewer.id, apiKey.id, show(before));

    const rv = await s.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', { id: apiKey.id });
    assert.ok(rv.data?.revokeApiKey.revokedAt, show(rv));

    const afterRevoke = await s.gql('{ viewer { id } }', {}, token);
    assert.deepEqual(codes(afterRevoke), ['UNAUTHENTICATED'], show(afterRevoke));
    const mutation = await s.gql('mutation { createApiKey(name: "by revoked", role: SUPPORT) { token } }', {}, token);
    assert.deepEqual(codes(mutation), ['UNAUTHENTICATED'], show(mutation));
    const { rows } = await s.db.pool.query(`SELECT count(*)::int AS n FROM api_keys WHERE name = 'by revoked'`);
    assert.equal(rows[0].n, 0);
  });

  it('a key can revoke itself and is refused on its next request', async () => {
    const c = await s.gql('mutation { createApiKey(name: "self revoke", role: SUPPORT) { apiKey { id } token } }');
    const { apiKey, token } = c.data.createApiKey;
    const rv = await s.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: apiKey.id }, token);
    assert.equal(rv.data?.revokeApiKey.id, apiKey.id, show(rv));
    assert.deepEqual(codes(await s.gql('{ viewer { id } }', {}, token)), ['UNAUTHENTICATED']);
  });

  describe('a FORBIDDEN mutation stores nothing', () => {
    const count = async (table: string, where = 'true') =>
      (await s.db.pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`)).rows[0].n as number;

    it('VIEWER createWebhook', async () => {
      const before = await count('webhooks');
      const beforeSubs = await count('webhook_subscriptions');
      const r = await s.gql(
        'mutation { createWebhook(input: {name: "viewer made", destinationUrl: "http://127.0.0.1:9/v", subscriptions: [{resource: USERS, action: CREATE}]}) { id } }',
        {},
        'VIEWER',
      );
      assert.deepEqual(codes(r), ['FORBIDDEN'], show(r));
      assert.equal(await count('webhooks'), before);
      assert.equal(await count('webhook_subscriptions'), beforeSubs);
    });

    it('PUBLISHER createWebhook', async () => {
      const before = await count('webhooks');
      const r = await s.gql(
        'mutation { createWebhook(input: {name: "publisher made", destinationUrl: "http://127.0.0.1:9/p"}) { id } }',
        {},
        'PUBLISHER',
      );
      assert.deepEqual(codes(r), ['FORBIDDEN'], show(r));
      assert.equal(await count('webhooks'), before);
    });

    it('VIEWER and PUBLISHER createApiKey', async () => {
      const before = await count('api_keys');
      for (const role of ['VIEWER', 'PUBLISHER'] as const) {
        const r = await s.gql('mutation { createApiKey(name: "escalate", role: SUPPORT) { token } }', {}, role);
        assert.deepEqual(codes(r), ['FORBIDDEN'], show(r));
      }
      assert.equal(await count('api_keys'), before);
    });

    it('VIEWER publishEvent', async () => {
      const before = await count('events');
      const r = await s.gql(
        'mutation { publishEvent(input: {resource: USERS, action: CREATE, payload: {id: "v1"}}) { id } }',
        {},
        'VIEWER',
      );
      assert.deepEqual(codes(r), ['FORBIDDEN'], show(r));
      assert.equal(await count('events'), before);
    });

    it('VIEWER / PUBLISHER update, pause, delete, subscribe and revoke on existing rows', async () => {
      const c = await s.gql(
        'mutation { createWebhook(input: {name: "target", destinationUrl: "https://example.com/t", subscriptions: [{resource: USERS, action: CREATE}]}) { id } }',
      );
      const id = c.data.createWebhook.id as string;
      const victim = await s.gql('mutation { createApiKey(name: "victim", role: VIEWER) { apiKey { id } } }');
      const keyId = victim.data.createApiKey.apiKey.id as string;

      for (const role of ['VIEWER', 'PUBLISHER'] as const) {
        const attempts = [
          s.gql(
            'mutation($id: ID!) { updateWebhook(id: $id, input: {name: "hijacked", destinationUrl: "https://evil.example/"}) { id } }',
            { id },
            role,
          ),
          s.gql('mutation($id: ID!) { pauseWebhook(id: $id) { id } }', { id }, role),
          s.gql('mutation($id: ID!) { deleteWebhook(id: $id) }', { id }, role),
          s.gql(
            'mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: COURSES, action: CREATE}]) { id } }',
            { id },
            role,
          ),
          s.gql(
            'mutation($id: ID!) { removeWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: CREATE}]) { id } }',
            { id },
            role,
          ),
          s.gql('mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }', { id }, role),
          s.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: keyId }, role),
        ];
        for (const r of await Promise.all(attempts)) assert.deepEqual(codes(r), ['FORBIDDEN'], `${role}: ${show(r)}`);
      }

      const { rows } = await s.db.pool.query(
        'SELECT name, destination_url, status, deleted_at FROM webhooks WHERE id = $1',
        [id],
      );
      assert.deepEqual(rows[0], {
        name: 'target',
        destination_url: 'https://example.com/t',
        status: 'ACTIVE',
        deleted_at: null,
      });
      const subs = await s.db.pool.query('SELECT resource, action FROM webhook_subscriptions WHERE webhook_id = $1', [
        id,
      ]);
      assert.deepEqual(subs.rows, [{ resource: 'USERS', action: 'CREATE' }]);
      assert.equal(await count('deliveries', `webhook_id = '${id}'`), 0);
      assert.equal(await count('api_keys', `id = '${keyId}' AND revoked_at IS NULL`), 1);
    });
  });
});
