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
  collect,
  createWebhook,
  feedClient,
  publish,
  type Attempt,
  type FeedClient,
  type StatusChange,
} from '../kit/index.js';
import assert from 'node:assert/strict';

// Who may open the live feed: the key is checked in connection_init (close
// 4403 when it is missing, unknown or revoked); the role is checked per
// subscription (FORBIDDEN for a PUBLISHER key).

const FORBIDDEN_CLOSE = 4403;

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
