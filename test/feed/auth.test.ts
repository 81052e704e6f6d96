import { after, before, describe, it } from 'node:test';
import {
  startServer,
  eventually,
  type TestServer,
  startReceiver,
  type Receiver,
  ATTEMPTS_SUBSCRIPTION,
  STATUS_SUBSCRIPTION,
  armed,
  codes,
  collect,
  createWebhook,
  cutListenConnections,
  feedClient,
  publish,
  type Attempt,
  type FeedClient,
  type StatusChange,
} from '../kit/index.js';
import assert from 'node:assert/strict';

// Who may open the live feed: the key is checked in connection_init (close
// 4403 when it is missing, unknown or revoked) and again for every operation,
// so a connection is no stronger than its key is now; the role is checked per
// subscription (FORBIDDEN for a PUBLISHER key). A revocation whose notice was
// lost (the LISTEN connection down) still closes the key's connections once
// LISTEN is back.

const FORBIDDEN_CLOSE = 4403;
const MINT = 'mutation { createApiKey(name: "minted over the socket", role: SUPPORT) { token } }';

describe('live feed authentication', () => {
  let s: TestServer;
  let r: Receiver;
  const clients: FeedClient[] = [];
  const open = (token: string | null, opts: { rawAuthorization?: string } = {}) => {
    const c = feedClient(s.url, token, opts);
    clients.push(c);
    return c;
  };
  /** A refused client: closed with 4403, never acknowledged, and its subscription told so. */
  const assertRefused = async (c: FeedClient) => {
    const sub = collect<Attempt>(c, ATTEMPTS_SUBSCRIPTION, {}, 'deliveryAttempts');
    const close = await eventually(() => c.closes[0], 10_000, 'the close');
    assert.equal(close.code, FORBIDDEN_CLOSE, `closed with ${close.code} ${close.reason}`);
    assert.equal(c.connected, false, 'never acknowledged');
    await eventually(() => sub.errors.length > 0 || sub.completed, 10_000, 'the subscription to end');
    assert.deepEqual(sub.items, []);
  };

  /** A fresh SUPPORT key with an open connection, a live subscription on it, and a working HTTP request. */
  const supportInUse = async (name: string) => {
    const created = await s.gql(
      `mutation($n: String!) { createApiKey(name: $n, role: SUPPORT) { apiKey { id } token } }`,
      {
        n: name,
      },
    );
    const { apiKey, token } = created.data!.createApiKey as { apiKey: { id: string }; token: string };
    assert.equal((await s.gql('{ viewer { id } }', {}, token)).errors, undefined);
    const c = open(token);
    const sub = collect<StatusChange>(c, STATUS_SUBSCRIPTION, {}, 'webhookStatusChanged');
    await eventually(() => c.connected, 10_000, `the ${name} connection`);
    return { id: apiKey.id, token, c, sub };
  };
  const minted = async () =>
    (
      await s.db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM api_keys WHERE name = 'minted over the socket'`,
      )
    ).rows[0]!.n;
  /** Revoked as a statement that announces nothing: what a lost NOTIFY leaves behind. */
  const revokeSilently = (id: string) => s.db.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [id]);
  /** The connection is closed 4403 for a revoked key, its subscription is over, and HTTP refuses the key too. */
  const assertShut = async (v: Awaited<ReturnType<typeof supportInUse>>) => {
    const close = await eventually(() => v.c.closes[0], 10_000, 'the connection to close');
    assert.deepEqual(close, { code: FORBIDDEN_CLOSE, reason: 'API key revoked' });
    await eventually(() => v.sub.errors.length > 0 || v.sub.completed, 10_000, 'the subscription to end');
    assert.deepEqual(codes(await s.gql('{ viewer { id } }', {}, v.token)), ['UNAUTHENTICATED']);
    await assertRefused(open(v.token));
  };

  before(async () => {
    s = await startServer('feed_auth');
    r = await startReceiver();
  });
  after(async () => {
    for (const c of clients) await c.dispose().catch(() => undefined);
    await s.stop();
    await r.close();
  });

  it('no connectionParams → closed with 4403', async () => {
    await assertRefused(open(null));
  });

  it('an unknown key → closed with 4403', async () => {
    await assertRefused(open('nonsense'));
  });

  it('a malformed authorization (no Bearer scheme) → closed with 4403', async () => {
    await assertRefused(open(null, { rawAuthorization: s.keys.VIEWER }));
  });

  it('a key revoked with revokeApiKey → closed with 4403', async () => {
    const created = await s.gql(
      `mutation { createApiKey(name: "soon revoked", role: VIEWER) { apiKey { id } token } }`,
    );
    const { apiKey, token } = created.data!.createApiKey as { apiKey: { id: string }; token: string };
    // Works before revocation (and is now in the key cache) …
    const before = open(token);
    await eventually(() => before.connected, 10_000, 'the connection before revocation');
    await before.dispose();
    // … and is refused after.
    const revoked = await s.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`, { id: apiKey.id });
    assert.ok(revoked.data?.revokeApiKey.revokedAt, JSON.stringify(revoked));
    await assertRefused(open(token));
  });

  it('a key revoked with revokeApiKey while connected: its connection is closed 4403 at once', async () => {
    const v = await supportInUse('revoked while connected');
    const revoked = await s.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, { id: v.id });
    assert.ok(revoked.data?.revokeApiKey.revokedAt, JSON.stringify(revoked));
    await assertShut(v);
  });

  it('a key revoked without a notice: the next operation over its open connection is refused, not run', async () => {
    const v = await supportInUse('revoked silently');
    await revokeSilently(v.id);
    // The key leaves the cache (as it does when the cache is full, or LISTEN reconnects), and the connection stays open.
    s.hookline.services.apiKeys.forgetAll();
    const mint = collect<{ token: string }>(v.c, MINT, {}, 'createApiKey');
    await eventually(() => mint.errors.length > 0 || mint.completed, 10_000, 'the mutation to be answered');
    assert.deepEqual(mint.items, [], 'no key minted');
    await assertShut(v);
    const late = collect<StatusChange>(v.c, STATUS_SUBSCRIPTION, {}, 'webhookStatusChanged');
    await eventually(() => late.errors.length > 0 || late.completed, 10_000, 'a later subscribe to be refused');
    assert.deepEqual(late.items, []);
    assert.equal(await minted(), 0, 'createApiKey never ran');
  });

  it('a revocation whose notice was lost (LISTEN down): closed 4403 once LISTEN is back, refused on HTTP', async () => {
    const v = await supportInUse('revoked while LISTEN was down');
    await revokeSilently(v.id);
    assert.equal(await cutListenConnections(s.db), 1, "the server's LISTEN connection");
    await assertShut(v);
    const mint = collect<{ token: string }>(v.c, MINT, {}, 'createApiKey');
    await eventually(() => mint.errors.length > 0 || mint.completed, 10_000, 'the mutation to be refused');
    assert.deepEqual(mint.items, []);
    assert.equal(await minted(), 0, 'createApiKey never ran');
  });

  it('when the keys cannot be read again after LISTEN is back, every connection is closed 1013 (reconnect)', async () => {
    const v = await supportInUse('unverifiable');
    const keys = s.hookline.services.apiKeys;
    const unrevoked = keys.unrevoked.bind(keys);
    keys.unrevoked = () => Promise.reject(new Error('the database did not answer'));
    try {
      assert.equal(await cutListenConnections(s.db), 1, "the server's LISTEN connection");
      const close = await eventually(() => v.c.closes[0], 10_000, 'the connection to close');
      assert.deepEqual(close, { code: 1013, reason: 'could not check the API key again: reconnect' });
    } finally {
      keys.unrevoked = unrevoked;
    }
    const again = open(v.token);
    await eventually(() => again.connected, 10_000, 'a new connection with the same (valid) key');
  });

  it('a PUBLISHER key connects, but subscribing is FORBIDDEN', async () => {
    const c = open(s.keys.PUBLISHER);
    await eventually(() => c.connected, 10_000, 'the PUBLISHER connection');
    for (const [query, field] of [
      [ATTEMPTS_SUBSCRIPTION, 'deliveryAttempts'],
      [STATUS_SUBSCRIPTION, 'webhookStatusChanged'],
    ] as const) {
      const sub = collect<unknown>(c, query, {}, field);
      // graphql-js reports a throwing subscribe resolver as a result with errors,
      // which graphql-ws sends as `next` + `complete`; a server that refuses in
      // onSubscribe sends an `error` message (the sink's error callback gets the
      // array). Either way: FORBIDDEN, no data, and the subscription is over.
      await eventually(() => sub.completed || sub.errors.length > 0, 10_000, `the ${field} refusal`);
      const errors = (sub.errors.length ? sub.errors[0] : sub.resultErrors) as {
        message: string;
        extensions?: { code?: string };
      }[];
      assert.ok(Array.isArray(errors) && errors.length >= 1, `GraphQL errors expected, got ${JSON.stringify(sub)}`);
      assert.deepEqual(
        errors.map((e) => e.extensions?.code),
        errors.map(() => 'FORBIDDEN'),
        JSON.stringify(errors),
      );
      assert.match(errors[0]!.message, /PUBLISHER/);
      assert.deepEqual(sub.items, [], 'no data');
    }
    assert.deepEqual(c.closes, [], 'a refused subscription does not close the connection');
  });

  it('a VIEWER key connects and receives attempts and status changes', async () => {
    const w = (await createWebhook(s, { name: 'viewer-ok', url: `${r.url}/v`, subs: [['USERS', 'CREATE']] })).id;
    const c = open(s.keys.VIEWER);
    const attempts = collect<Attempt>(c, ATTEMPTS_SUBSCRIPTION, { w }, 'deliveryAttempts');
    const statuses = collect<StatusChange>(c, STATUS_SUBSCRIPTION, { w }, 'webhookStatusChanged');
    let i = 0;
    await armed(
      'VIEWER attempts',
      () => publish(s, 'USERS', 'CREATE', { id: `v-${++i}` }),
      () => attempts.items.length > 0,
    );
    let paused = false;
    await armed(
      'VIEWER statuses',
      async () => {
        paused = !paused;
        await s.gql(`mutation($id: ID!) { ${paused ? 'pauseWebhook' : 'resumeWebhook'}(id: $id) { id } }`, { id: w });
      },
      () => statuses.items.length > 0,
    );
    assert.equal(c.connected, true);
    assert.equal(attempts.items[0]!.webhookId, w);
    assert.equal(statuses.items[0]!.id, w);
    assert.deepEqual([...attempts.errors, ...statuses.errors, ...attempts.resultErrors, ...statuses.resultErrors], []);
    assert.deepEqual(c.closes, []);
  });
});
