import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  codes,
  createWebhook,
  deliveryFor,
  eventually,
  must,
  publish,
  runCli,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// The audit log: every SUPPORT mutation writes exactly one entry, in its own
// transaction, naming who (key id and name), what and the changes, with
// secrets only as "set", "cleared" or "rotated"; the CLI's changes are the
// actor "cli", the service's own (410 Gone, a failure streak) "hookline".

const SECRET_BEARER = `bearer-${randomUUID()}`;
const SECRET_HMAC = `hmac-${randomUUID()}`;
const SECRET_BEARER_2 = `bearer2-${randomUUID()}`;

const ENTRY = 'id at actorName action targetType targetId changes actor { id name role }';
const LOG = `query($t: ID, $a: String, $first: Int, $after: String) {
  auditLog(targetId: $t, action: $a, first: $first, after: $after) { pageInfo { hasNextPage endCursor } edges { node { ${ENTRY} } } }
}`;

interface Entry {
  id: string;
  at: string;
  actorName: string;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: Record<string, unknown>;
  actor: { id: string; name: string; role: string } | null;
}

describe('the audit log', () => {
  let s: TestServer;
  let r: Receiver;
  let supportId: string;

  before(async () => {
    s = await startServer('audit', { env: { HOOKLINE_RETRY_SCHEDULE: '1h' } });
    r = await startReceiver();
    supportId = must(await s.gql('{ viewer { id } }'), 'viewer').viewer.id;
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  const all = async (): Promise<Entry[]> => {
    const { rows } = await s.db.pool.query(
      `SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, actor_key_id, actor_name AS "actorName", action,
              target_type AS "targetType", target_id AS "targetId", changes
       FROM audit_log ORDER BY at, id`,
    );
    return rows;
  };

  it('every SUPPORT mutation writes exactly one entry, with the key, the target and the changes, and no secret', async () => {
    const path = uniquePath('audited');
    let webhookId = '';
    let deliveryId = '';
    let accountId = '';
    let keyId = '';
    // Each step: a SUPPORT mutation that changes something, and what its entry must say.
    const steps: [string, () => Promise<unknown>, (e: Entry) => void][] = [
      [
        'createWebhook',
        async () => {
          const res = await s.gql(`mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }`, {
            i: {
              name: 'audited',
              destinationUrl: `${r.url}${path}`,
              bearerToken: SECRET_BEARER,
              hmacSecret: SECRET_HMAC,
              generateSigningKey: true,
              subscriptions: [{ resource: 'USERS', action: 'DELETE' }],
            },
          });
          webhookId = must(res, 'create').createWebhook.id;
        },
        (e) => {
          assert.equal(e.action, 'webhook.created');
          assert.equal(e.targetId, webhookId);
          assert.deepEqual(e.changes.name, { new: 'audited' });
          assert.equal(e.changes.bearerToken, 'set');
          assert.equal(e.changes.hmacSecret, 'set');
          assert.equal(e.changes.signingKey, 'set');
          assert.deepEqual(e.changes.subscriptions, { new: ['user.deleted'] });
        },
      ],
      [
        'updateWebhook',
        () =>
          s.gql(
            `mutation($id: ID!, $b: String!) { updateWebhook(id: $id, input: {name: "renamed", bearerToken: $b, clearHmacSecret: true}) { id } }`,
            { id: webhookId, b: SECRET_BEARER_2 },
          ),
        (e) => {
          assert.equal(e.action, 'webhook.updated');
          assert.deepEqual(e.changes.name, { old: 'audited', new: 'renamed' });
          assert.equal(e.changes.bearerToken, 'set');
          assert.equal(e.changes.hmacSecret, 'cleared');
          assert.equal(e.changes.destinationUrl, undefined, 'unchanged fields are not listed');
        },
      ],
      [
        'rotateWebhookSecret',
        () =>
          s.gql(
            `mutation($id: ID!) { rotateWebhookSecret(webhookId: $id, scheme: ED25519, overlapSeconds: 60) { publicKey } }`,
            { id: webhookId },
          ),
        (e) => {
          assert.equal(e.action, 'webhook.secret_rotated');
          assert.deepEqual(e.changes, { signingKey: 'rotated', scheme: 'ED25519', overlapSeconds: 60 });
        },
      ],
      [
        'addWebhookSubscriptions',
        () =>
          s.gql(
            `mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: CREATE}]) { id } }`,
            { id: webhookId },
          ),
        (e) => {
          assert.equal(e.action, 'webhook.subscriptions_added');
          assert.deepEqual(e.changes.subscriptions, { old: ['user.deleted'], added: ['user.created'] });
        },
      ],
      [
        'setWebhookSubscriptions',
        () =>
          s.gql(
            `mutation($id: ID!) { setWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: CREATE}, {resource: USERS, action: DELETE, filter: {department: "hr"}}]) { id } }`,
            { id: webhookId },
          ),
        (e) => {
          assert.equal(e.action, 'webhook.subscriptions_set');
          assert.deepEqual(e.changes.subscriptions, {
            old: ['user.created', 'user.deleted'],
            new: ['user.created', 'user.deleted'],
          });
          assert.deepEqual(e.changes.filters, { old: null, new: { 'user.deleted': { department: 'hr' } } });
        },
      ],
      [
        'removeWebhookSubscriptions',
        () =>
          s.gql(
            `mutation($id: ID!) { removeWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: DELETE}]) { id } }`,
            { id: webhookId },
          ),
        (e) => assert.equal(e.action, 'webhook.subscriptions_removed'),
      ],
      [
        'pauseWebhook',
        () => s.gql(`mutation($id: ID!) { pauseWebhook(id: $id) { id } }`, { id: webhookId }),
        (e) => {
          assert.equal(e.action, 'webhook.paused');
          assert.deepEqual(e.changes.status, { old: 'ACTIVE', new: 'PAUSED' });
        },
      ],
      [
        'resumeWebhook',
        () => s.gql(`mutation($id: ID!) { resumeWebhook(id: $id) { id } }`, { id: webhookId }),
        (e) => assert.equal(e.action, 'webhook.resumed'),
      ],
      [
        'sendTestEvent',
        async () => {
          const res = await s.gql(`mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }`, { id: webhookId });
          deliveryId = must(res, 'sendTestEvent').sendTestEvent.id;
          await waitForAttempts(s, deliveryId, 1);
        },
        (e) => {
          assert.equal(e.action, 'webhook.test_sent');
          assert.equal(e.changes.deliveryId, deliveryId);
        },
      ],
      [
        'redeliver',
        () => s.gql(`mutation($id: ID!) { redeliver(deliveryId: $id) { id } }`, { id: deliveryId }),
        (e) => {
          assert.equal(e.action, 'delivery.redelivered');
          assert.deepEqual([e.targetType, e.targetId], ['Delivery', deliveryId]);
        },
      ],
      [
        'retryFailedDeliveries',
        () =>
          s.gql(`mutation($id: ID!) { retryFailedDeliveries(webhookId: $id, since: "2020-01-01T00:00:00Z") }`, {
            id: webhookId,
          }),
        (e) => {
          assert.equal(e.action, 'deliveries.retried');
          assert.equal(e.changes.count, 0);
        },
      ],
      [
        'replayDeliveries',
        () =>
          s.gql(
            `mutation($id: ID!, $since: DateTimeISO!) { replayDeliveries(webhookId: $id, since: $since, scope: ALL) { count } }`,
            { id: webhookId, since: new Date(Date.now() - 3_600_000).toISOString() },
          ),
        (e) => {
          assert.equal(e.action, 'deliveries.replayed');
          assert.equal(e.changes.scope, 'ALL');
          assert.equal(typeof e.changes.count, 'number');
        },
      ],
      [
        'eraseObject',
        () => s.gql(`mutation { eraseObject(resource: USERS, objectId: "audited-person") { events } }`),
        (e) => {
          assert.equal(e.action, 'object.erased');
          assert.deepEqual([e.targetType, e.targetId], ['Object', null]);
          assert.deepEqual(e.changes, {
            resource: 'USERS',
            objectId: 'audited-person',
            events: 0,
            deliveriesCancelled: 0,
            attemptBodiesRemoved: 0,
            complete: true,
          });
        },
      ],
      [
        'createApiKey',
        async () => {
          const res = await s.gql(
            `mutation { createApiKey(name: "audited key", role: VIEWER, expiresAt: "2999-01-01T00:00:00Z") { apiKey { id } token } }`,
          );
          keyId = must(res, 'createApiKey').createApiKey.apiKey.id;
        },
        (e) => {
          assert.equal(e.action, 'api_key.created');
          assert.deepEqual([e.targetType, e.targetId], ['ApiKey', keyId]);
          assert.deepEqual(e.changes.role, { new: 'VIEWER' });
          assert.deepEqual(e.changes.expiresAt, { new: '2999-01-01T00:00:00.000Z' });
        },
      ],
      [
        'revokeApiKey',
        () => s.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: keyId }),
        (e) => assert.equal(e.action, 'api_key.revoked'),
      ],
      [
        'deleteWebhook',
        () => s.gql(`mutation($id: ID!) { deleteWebhook(id: $id) }`, { id: webhookId }),
        (e) => {
          assert.equal(e.action, 'webhook.deleted');
          assert.deepEqual(e.changes.name, { old: 'renamed' });
        },
      ],
      [
        'createAccount',
        async () => {
          const res = await s.gql(`mutation { createAccount(input: {key: "audited-acct", name: "Audited"}) { id } }`);
          accountId = must(res, 'createAccount').createAccount.id;
          return res;
        },
        (e) => {
          assert.equal(e.action, 'account.created');
          assert.deepEqual([e.targetType, e.targetId], ['Account', accountId]);
          assert.deepEqual(e.changes.key, { new: 'audited-acct' });
        },
      ],
      [
        'updateAccount',
        () =>
          s.gql(`mutation($id: ID!) { updateAccount(id: $id, input: {name: "Renamed"}) { id } }`, { id: accountId }),
        (e) => {
          assert.equal(e.action, 'account.updated');
          assert.deepEqual(e.changes.name, { old: 'Audited', new: 'Renamed' });
        },
      ],
      [
        'deleteAccount',
        () => s.gql(`mutation($id: ID!) { deleteAccount(id: $id, confirmKey: "audited-acct") }`, { id: accountId }),
        (e) => {
          assert.equal(e.action, 'account.deleted');
          assert.deepEqual(e.changes.key, { old: 'audited-acct' });
        },
      ],
    ];

    const mutations = must(
      await s.gql('{ __schema { mutationType { fields { name } } } }'),
      'introspection',
    ).__schema.mutationType.fields.map((f: { name: string }) => f.name);
    // publishEvent(s) are data, not configuration.
    const unaudited = ['publishEvent', 'publishEvents'];
    assert.deepEqual(
      steps.map(([name]) => name).sort(),
      mutations.filter((m: string) => !unaudited.includes(m)).sort(),
      'the walk covers every SUPPORT mutation',
    );

    for (const [name, run, check] of steps) {
      const before = (await all()).length;
      const res = (await run()) as { errors?: unknown } | undefined;
      assert.equal(res?.errors, undefined, `${name}: ${JSON.stringify(res)}`);
      const entries = await all();
      assert.equal(entries.length, before + 1, `${name} wrote exactly one entry`);
      const e = entries.at(-1)!;
      assert.equal((e as unknown as { actor_key_id: string }).actor_key_id, supportId, name);
      assert.equal(e.actorName, 'test SUPPORT', name);
      check(e);
    }
    const text = JSON.stringify(await all());
    for (const secret of [SECRET_BEARER, SECRET_HMAC, SECRET_BEARER_2])
      assert.ok(!text.includes(secret), 'a secret in the log');
    assert.doesNotMatch(text, /whsec_|whpk_|v1\.test\./, 'no secret, key or sealed value in the log');
  });

  it('a no-op change writes nothing (pausing a paused webhook)', async () => {
    const w = await createWebhook(s, { url: `${r.url}/noop` });
    await s.gql(`mutation($id: ID!) { pauseWebhook(id: $id) { id } }`, { id: w.id });
    const before = (await all()).length;
    await s.gql(`mutation($id: ID!) { pauseWebhook(id: $id) { id } }`, { id: w.id });
    await s.gql(`mutation($id: ID!) { updateWebhook(id: $id, input: {}) { id } }`, { id: w.id });
    assert.equal((await all()).length, before);
  });

  it('the service records its own changes as "hookline": a 410 Gone disables the webhook', async () => {
    const path = uniquePath('gone');
    r.on(path, () => ({ status: 410 }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['COURSES', 'DELETE']] });
    const ev = await publish(s, 'COURSES', 'DELETE', { id: 'gone-1' });
    await waitForAttempts(s, deliveryFor(ev, w.id), 1);
    const e = await eventually(async () =>
      (await all()).find((x) => x.action === 'webhook.disabled' && x.targetId === w.id),
    );
    assert.equal(e.actorName, 'hookline');
    assert.equal((e as unknown as { actor_key_id: string | null }).actor_key_id, null);
    assert.deepEqual(e.changes.status, { old: 'ACTIVE', new: 'DISABLED' });
    assert.match(String((e.changes.statusReason as { new: string }).new), /410/);
  });

  it('the CLI records its changes as "cli"', async () => {
    const env = { DATABASE_URL: s.db.url };
    const created = await runCli(['api-keys', 'create', '--name', 'from the cli', '--role', 'VIEWER'], env);
    assert.equal(created.code, 0, created.stderr);
    const id = /key ([0-9a-f-]{36})/.exec(created.stderr)![1]!;
    const revoked = await runCli(['api-keys', 'revoke', id], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    const mine = (await all()).filter((e) => e.targetId === id);
    assert.deepEqual(
      mine.map((e) => [e.action, e.actorName]),
      [
        ['api_key.created', 'cli'],
        ['api_key.revoked', 'cli'],
      ],
    );
    assert.ok(mine.every((e) => (e as unknown as { actor_key_id: null }).actor_key_id === null));
  });

  it('auditLog: newest first, filtered by target and by action, paged, with the actor key; SUPPORT only', async () => {
    const w = await createWebhook(s, { url: `${r.url}/paged`, name: 'paged' });
    for (const name of ['p1', 'p2', 'p3']) {
      await s.gql(`mutation($id: ID!, $n: String!) { updateWebhook(id: $id, input: {name: $n}) { id } }`, {
        id: w.id,
        n: name,
      });
    }
    const byTarget = must(await s.gql(LOG, { t: w.id }), 'auditLog').auditLog.edges.map((e: { node: Entry }) => e.node);
    assert.deepEqual(
      byTarget.map((e: Entry) => e.action),
      ['webhook.updated', 'webhook.updated', 'webhook.updated', 'webhook.created'],
    );
    assert.deepEqual(
      byTarget.map((e: Entry) => (e.changes.name as { new: string }).new),
      ['p3', 'p2', 'p1', 'paged'],
    );
    assert.deepEqual(byTarget[0].actor, { id: supportId, name: 'test SUPPORT', role: 'SUPPORT' });

    const first = must(await s.gql(LOG, { t: w.id, first: 2 }), 'page 1').auditLog;
    assert.equal(first.pageInfo.hasNextPage, true);
    const second = must(await s.gql(LOG, { t: w.id, first: 2, after: first.pageInfo.endCursor }), 'page 2').auditLog;
    assert.deepEqual(
      [...first.edges, ...second.edges].map((e: { node: Entry }) => e.node.id),
      byTarget.map((e: Entry) => e.id),
    );
    const created = must(await s.gql(LOG, { a: 'webhook.created', first: 100 }), 'by action').auditLog.edges;
    assert.ok(created.length >= 2 && created.every((e: { node: Entry }) => e.node.action === 'webhook.created'));

    assert.deepEqual(codes(await s.gql(LOG, {}, 'VIEWER')), ['FORBIDDEN']);
  });

  it('each listing uses its index (EXPLAIN)', async () => {
    const client = await s.db.pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const plan = async (sql: string) =>
        (await client.query(`EXPLAIN ${sql}`)).rows.map((x) => x['QUERY PLAN']).join('\n');
      const id = randomUUID();
      assert.match(
        await plan(`SELECT * FROM audit_log WHERE target_id = '${id}' ORDER BY at DESC, id DESC LIMIT 21`),
        /audit_log_target/,
      );
      assert.match(
        await plan(`SELECT * FROM audit_log WHERE action = 'webhook.updated' ORDER BY at DESC, id DESC LIMIT 21`),
        /audit_log_action/,
      );
      assert.match(await plan(`SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT 21`), /audit_log_page/);
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });
});
