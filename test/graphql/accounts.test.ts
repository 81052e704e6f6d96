import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import {
  codes,
  eventually,
  must,
  startReceiver,
  startServer,
  uniquePath,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// Accounts: isolation between two customers, by example where the generated
// walk (authz-walk/*-scoped) cannot say it: fan-out, idempotency, object ids,
// deletion. Two accounts, A and B, each with a webhook subscribed to the same event.

describe('accounts', () => {
  let s: TestServer;
  let r: Receiver;
  const acct = { a: '', b: '' };
  const hook = { a: '', b: '' };
  const path = { a: uniquePath('a'), b: uniquePath('b') };
  const token = { a: '', b: '' };

  const publishAs = (who: string, input: string) =>
    s.gql(
      `mutation { publishEvent(input: ${input}) { id idempotencyKey account { key } deliveries { webhook { id } } } }`,
      {},
      who,
    );

  before(async () => {
    s = await startServer('accounts');
    r = await startReceiver();
    for (const x of ['a', 'b'] as const) {
      r.on(path[x], () => ({ status: 200 }));
      acct[x] = must(
        await s.gql(`mutation { createAccount(input: {key: "acct-${x}", name: "Account ${x}"}) { id } }`),
      ).createAccount.id;
      hook[x] = must(
        await s.gql(
          `mutation { createWebhook(input: {name: "hook ${x}", destinationUrl: "${r.url}${path[x]}", accountId: "${acct[x]}", subscriptions: [{resource: USERS, action: CREATE}]}) { id } }`,
        ),
      ).createWebhook.id;
      token[x] = must(
        await s.gql(`mutation { createApiKey(name: "admin ${x}", role: SUPPORT, accountId: "${acct[x]}") { token } }`),
      ).createApiKey.token;
    }
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('an event fans out to its own account’s webhooks only, inside the publishing statement', async () => {
    const res = must(
      await publishAs('SUPPORT', '{resource: USERS, action: CREATE, payload: {id: "u1"}, account: "acct-a"}'),
    );
    assert.deepEqual(
      res.publishEvent.deliveries.map((d: { webhook: { id: string } }) => d.webhook.id),
      [hook.a],
    );
    assert.equal(res.publishEvent.account.key, 'acct-a');
    await eventually(() => r.received.some((x) => x.path === path.a), 10_000, 'A’s delivery');
    assert.equal(r.received.filter((x) => x.path === path.b).length, 0);
    // Without an account: the default one, where neither webhook is.
    const plain = must(await publishAs('SUPPORT', '{resource: USERS, action: CREATE, payload: {id: "u1"}}'));
    assert.deepEqual(plain.publishEvent.deliveries, []);
  });

  it('the same idempotency key in two accounts is two events; in one account it is one', async () => {
    const input = (k: string) =>
      `{resource: USERS, action: CREATE, payload: {id: "u42"}, idempotencyKey: "user-42-created", account: "${k}"}`;
    const a1 = must(await publishAs('SUPPORT', input('acct-a'))).publishEvent;
    const b1 = must(await publishAs('SUPPORT', input('acct-b'))).publishEvent;
    const a2 = must(await publishAs('SUPPORT', input('acct-a'))).publishEvent;
    assert.notEqual(a1.id, b1.id);
    assert.equal(a2.id, a1.id);
    assert.deepEqual(
      b1.deliveries.map((d: { webhook: { id: string } }) => d.webhook.id),
      [hook.b],
    );
  });

  it('object ids are per account: A’s search for object u42 finds A’s events only', async () => {
    const mine = must(
      await s.gql('{ events(objectId: "u42") { edges { node { id account { key } } } } }', {}, token.a),
    );
    const keys = mine.events.edges.map((e: { node: { account: { key: string } } }) => e.node.account.key);
    assert.ok(keys.length >= 1);
    assert.deepEqual([...new Set(keys)], ['acct-a']);
    const all = must(await s.gql('{ events(objectId: "u42") { edges { node { account { key } } } } }'));
    assert.deepEqual(
      [...new Set(all.events.edges.map((e: { node: { account: { key: string } } }) => e.node.account.key))].sort(),
      ['acct-a', 'acct-b'],
    );
  });

  it('a scoped key: another account’s id reads as null and acts as NOT_FOUND, byte for byte like a missing one', async () => {
    const missing = '00000000-0000-4000-8000-00000000dead';
    const read = (id: string) => s.gql(`{ webhook(id: "${id}") { id } }`, {}, token.a);
    assert.deepEqual(await read(hook.b), { data: { webhook: null } });
    const pause = (id: string) => s.gql(`mutation { pauseWebhook(id: "${id}") { id } }`, {}, token.a);
    const [other, none] = [await pause(hook.b), await pause(missing)];
    assert.deepEqual(codes(other), ['NOT_FOUND']);
    assert.equal(other.errors![0]!.message.replace(hook.b, 'ID'), none.errors![0]!.message.replace(missing, 'ID'));
    // A scoped PUBLISHER or SUPPORT naming another account is refused, and nothing is stored.
    const count = async () => (await s.db.pool.query('SELECT count(*)::int AS n FROM events')).rows[0].n as number;
    const before = await count();
    const refused = await publishAs(
      token.a,
      '{resource: USERS, action: CREATE, payload: {id: "x"}, account: "acct-b"}',
    );
    assert.deepEqual(codes(refused), ['FORBIDDEN']);
    const unknown = await publishAs(
      token.a,
      '{resource: USERS, action: CREATE, payload: {id: "x"}, account: "acct-new"}',
    );
    assert.deepEqual(codes(unknown), ['FORBIDDEN']);
    assert.equal(await count(), before);
    assert.equal((await s.gql('{ account(key: "acct-new") { id } }')).data?.account, null, 'no account was created');
    const key = await s.gql(
      `mutation { createApiKey(name: "x", role: VIEWER, accountId: "${acct.b}") { token } }`,
      {},
      token.a,
    );
    assert.deepEqual(codes(key), ['FORBIDDEN']);
    for (const m of [
      'createAccount(input: {key: "zz", name: "zz"}) { id }',
      `updateAccount(id: "${acct.a}", input: {name: "mine"}) { id }`,
      `deleteAccount(id: "${acct.a}", confirmKey: "acct-a")`,
    ]) {
      assert.deepEqual(codes(await s.gql(`mutation { ${m} }`, {}, token.a)), ['FORBIDDEN'], m);
    }
    // Its own account it manages: a webhook created without accountId lands in A.
    const own = must(
      await s.gql(
        `mutation { createWebhook(input: {name: "self-service", destinationUrl: "${r.url}/self"}) { account { key } } }`,
        {},
        token.a,
      ),
    );
    assert.equal(own.createWebhook.account.key, 'acct-a');
    const lists = must(
      await s.gql(`{ webhooks(accountId: "${acct.b}") { totalCount } accounts { totalCount } }`, {}, token.a),
    );
    assert.deepEqual(lists, { webhooks: { totalCount: 0 }, accounts: { totalCount: 1 } });
  });

  it('publishing for an unknown key creates its account, named after the key', async () => {
    const res = must(
      await publishAs('SUPPORT', '{resource: USERS, action: CREATE, payload: {id: "n1"}, account: "domain-77"}'),
    );
    assert.equal(res.publishEvent.account.key, 'domain-77');
    const found = must(await s.gql('{ account(key: "domain-77") { name } }'));
    assert.equal(found.account.name, 'domain-77');
  });

  it('deleteAccount: everything of it vanishes at once, its keys stop at once, the rows go afterwards', async () => {
    const bad = await s.gql(`mutation { deleteAccount(id: "${acct.b}", confirmKey: "acct-a") }`);
    assert.deepEqual(codes(bad), ['BAD_USER_INPUT']);
    const dflt = await s.gql(`mutation { deleteAccount(id: "${DEFAULT_ACCOUNT_ID}", confirmKey: "default") }`);
    assert.deepEqual(codes(dflt), ['FORBIDDEN']);
    must(await s.gql(`mutation { deleteAccount(id: "${acct.b}", confirmKey: "acct-b") }`));
    assert.deepEqual(codes(await s.gql('{ viewer { id } }', {}, token.b)), ['UNAUTHENTICATED']);
    const seen = must(
      await s.gql(
        `{ webhook(id: "${hook.b}") { id } account(id: "${acct.b}") { id } events(accountId: "${acct.b}") { edges { node { id } } } deliveries(webhookId: "${hook.b}") { edges { node { id } } } }`,
      ),
    );
    assert.deepEqual(seen, { webhook: null, account: null, events: { edges: [] }, deliveries: { edges: [] } });
    const left = async () =>
      (await s.db.pool.query('SELECT count(*)::int AS n FROM events WHERE account_id = $1', [acct.b])).rows[0]
        .n as number;
    assert.ok((await left()) > 0, 'the rows are still there until maintenance runs');
    await s.hookline.maintenance!.runNow();
    assert.equal(await left(), 0);
    const gone = await s.db.pool.query(
      'SELECT 1 FROM accounts WHERE id = $1 UNION ALL SELECT 1 FROM webhooks WHERE account_id = $1',
      [acct.b],
    );
    assert.equal(gone.rows.length, 0);
    // The key is free again: publishing for it makes a new, empty account.
    const again = must(
      await publishAs('SUPPORT', '{resource: USERS, action: CREATE, payload: {id: "u1"}, account: "acct-b"}'),
    );
    assert.deepEqual(again.publishEvent.deliveries, []);
  });
});
