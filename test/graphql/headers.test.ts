import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  codes,
  must,
  openStored,
  publish,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  deliveryFor,
  type GqlResult,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// Webhook.headers through the API: created, read, replaced, kept; a secret
// value sealed at rest and never in an answer, the audit log, an attempt's
// record or a log line; bad input refused naming the entry, nothing stored.

const SECRET = 'sk_live_4f9a_never-shown';
const NEW_SECRET = 'sk_live_77b1_also-never-shown';

const FIELDS = 'id headers { name value secret }';
const CREATE = `mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { ${FIELDS} } }`;

interface HeaderView {
  name: string;
  value: string | null;
  secret: boolean;
}

describe('graphql: custom headers', () => {
  let s: TestServer;
  let r: Receiver;

  before(async () => {
    r = await startReceiver();
    s = await startServer('gql_headers', { captureLog: true });
  });
  after(async () => {
    await s?.stop();
    await r?.close();
  });

  const create = (headers: unknown, url = `${r.url}${uniquePath('/h')}`) =>
    s.gql<{ createWebhook: { id: string; headers: HeaderView[] } }>(CREATE, {
      input: {
        name: 'with headers',
        destinationUrl: url,
        headers,
        subscriptions: [{ resource: 'USERS', action: 'CREATE' }],
      },
    });
  const update = (id: string, input: Record<string, unknown>) =>
    s.gql<{ updateWebhook: { id: string; headers: HeaderView[] } }>(UPDATE, { id, input });
  const stored = async (id: string) =>
    (await s.db.pool.query('SELECT headers FROM webhooks WHERE id = $1', [id])).rows[0].headers as Record<
      string,
      unknown
    >[];
  const audit = async (id: string) =>
    must(
      await s.gql(`query($t: ID!) { auditLog(targetId: $t) { edges { node { action changes } } } }`, { t: id }),
    ).auditLog.edges.map((e: { node: { action: string; changes: Record<string, unknown> } }) => e.node) as {
      action: string;
      changes: Record<string, unknown>;
    }[];

  it('creates with headers: the secret one reads as null, sealed at rest, audited by name', async () => {
    const w = must(
      await create([
        { name: 'X-Api-Key', value: SECRET, secret: true },
        { name: 'X-Tenant', value: 'acme' },
      ]),
    ).createWebhook;
    assert.deepEqual(w.headers, [
      { name: 'X-Api-Key', value: null, secret: true },
      { name: 'X-Tenant', value: 'acme', secret: false },
    ]);
    const read = must(
      await s.gql(`query($id: ID!) { webhook(id: $id) { headers { name value secret } } }`, { id: w.id }, 'VIEWER'),
    );
    assert.deepEqual(read.webhook.headers, w.headers, 'a VIEWER reads the same, secret value null');
    const [apiKey, tenant] = await stored(w.id);
    assert.equal(apiKey!.secret, true);
    assert.ok(!JSON.stringify(apiKey).includes(SECRET), 'not stored in plain text');
    assert.equal(openStored('headers.x-api-key', w.id, apiKey!.sealed as string), SECRET);
    assert.deepEqual(tenant, { name: 'X-Tenant', secret: false, value: 'acme' });
    const [entry] = await audit(w.id);
    assert.deepEqual(entry!.changes.headers, { new: ['X-Api-Key (secret)', 'X-Tenant'] });
  });

  it('update replaces the whole list; omitted keeps it; an empty secret value keeps the stored secret', async () => {
    const w = must(
      await create([
        { name: 'X-Api-Key', value: SECRET, secret: true },
        { name: 'X-Tenant', value: 'acme' },
      ]),
    ).createWebhook;
    const sealedBefore = (await stored(w.id))[0]!.sealed;
    // Omitted: unchanged, and no audit entry for headers.
    must(await update(w.id, { name: 'renamed' }));
    assert.equal((await stored(w.id))[0]!.sealed, sealedBefore);
    // Kept secret, changed plain value, a new header.
    const kept = must(
      await update(w.id, {
        headers: [
          { name: 'x-api-key', value: '', secret: true },
          { name: 'X-Tenant', value: 'globex' },
          { name: 'X-Region', value: 'eu' },
        ],
      }),
    ).updateWebhook;
    assert.deepEqual(kept.headers, [
      { name: 'x-api-key', value: null, secret: true },
      { name: 'X-Tenant', value: 'globex', secret: false },
      { name: 'X-Region', value: 'eu', secret: false },
    ]);
    const now = await stored(w.id);
    assert.equal(now[0]!.sealed, sealedBefore, 'the sealed value is kept as it was');
    assert.equal(openStored('headers.x-api-key', w.id, now[0]!.sealed as string), SECRET);
    const [last] = await audit(w.id);
    assert.deepEqual(last!.changes.headers, {
      old: ['X-Api-Key (secret)', 'X-Tenant'],
      new: ['x-api-key (secret)', 'X-Tenant', 'X-Region'],
      valuesSet: ['X-Tenant', 'X-Region'],
    });
    // Replaced secret, the rest removed.
    const replaced = must(
      await update(w.id, { headers: [{ name: 'X-Api-Key', value: NEW_SECRET, secret: true }] }),
    ).updateWebhook;
    assert.deepEqual(replaced.headers, [{ name: 'X-Api-Key', value: null, secret: true }]);
    assert.equal(openStored('headers.x-api-key', w.id, (await stored(w.id))[0]!.sealed as string), NEW_SECRET);
    assert.deepEqual(must(await update(w.id, { headers: [] })).updateWebhook.headers, []);
    assert.deepEqual(await stored(w.id), []);
  });

  it('refuses bad headers naming the entry, stores nothing, never echoes the secret', async () => {
    const count = async () => (await s.db.pool.query('SELECT count(*)::int AS n FROM webhooks')).rows[0].n as number;
    const before = await count();
    const cases: [unknown, string, RegExp][] = [
      [
        [{ name: 'Content-Type', value: 'text/plain' }],
        'input.headers[0].name',
        /Content-Type cannot be a custom header/,
      ],
      [
        [
          { name: 'X-Ok', value: 'a' },
          { name: 'X-Two', value: 'b' },
          { name: 'Authorization', value: SECRET, secret: true },
        ],
        'input.headers[2].name',
        /Authorization cannot be a custom header/,
      ],
      [
        [{ name: 'X-Key', value: `${SECRET}\r\nX-Injected: 1`, secret: true }],
        'input.headers[0].value',
        /printable ASCII/,
      ],
      [Array.from({ length: 11 }, (_, i) => ({ name: `X-${i}`, value: 'v' })), 'input.headers', /at most 10/],
      [[{ name: 'X-Key', value: '', secret: true }], 'input.headers[0].value', /has none/],
    ];
    for (const [headers, field, because] of cases) {
      const res: GqlResult = await create(headers);
      assert.deepEqual(codes(res), ['BAD_USER_INPUT'], JSON.stringify(res));
      assert.equal(res.errors![0]!.extensions?.field, field);
      assert.match(res.errors![0]!.message, because);
      assert.ok(!JSON.stringify(res).includes(SECRET), 'the answer quotes the secret');
    }
    assert.equal(await count(), before, 'no webhook was stored');
    const w = must(await create([{ name: 'X-Tenant', value: 'acme' }])).createWebhook;
    const res = await update(w.id, { name: 'not applied', headers: [{ name: 'webhook-id', value: 'x' }] });
    assert.equal(res.errors![0]!.extensions?.field, 'input.headers[0].name');
    const { rows } = await s.db.pool.query('SELECT name, headers FROM webhooks WHERE id = $1', [w.id]);
    assert.deepEqual(rows[0], { name: 'with headers', headers: [{ name: 'X-Tenant', secret: false, value: 'acme' }] });
  });

  it("the secret reaches the destination, and no answer, audit entry, attempt's record or log line holds it", async () => {
    const path = uniquePath('/secret');
    r.on(path, () => ({ status: 200, headers: { 'x-echo': 'nothing-of-ours' }, body: 'ok' }));
    const w = must(await create([{ name: 'X-Api-Key', value: SECRET, secret: true }], `${r.url}${path}`)).createWebhook;
    must(await update(w.id, { headers: [{ name: 'X-Api-Key', value: NEW_SECRET, secret: true }] }));
    const e = await publish(s, 'USERS', 'CREATE', { id: 'u-secret' });
    const d = await waitForAttempts(s, deliveryFor(e, w.id), 1);
    assert.equal(d.status, 'SUCCEEDED');
    const got = r.received.filter((x) => x.path === path);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.headers['x-api-key'], NEW_SECRET);
    const answers = JSON.stringify([
      must(
        await s.gql(
          `query($id: ID!) { webhook(id: $id) { headers { name value secret } deliveries { edges { node { attempts { responseHeaders responseBody remoteAddress timings { totalMs } } } } } } }`,
          { id: w.id },
        ),
      ),
      await audit(w.id),
    ]);
    for (const secret of [SECRET, NEW_SECRET]) {
      assert.ok(!answers.includes(secret), 'an answer holds the secret');
      const { rows } = await s.db.pool.query(
        `SELECT (SELECT count(*)::int FROM delivery_attempts a WHERE a::text LIKE '%' || $1 || '%') AS attempts,
                (SELECT count(*)::int FROM audit_log a WHERE a::text LIKE '%' || $1 || '%') AS audit,
                (SELECT count(*)::int FROM webhooks w WHERE w::text LIKE '%' || $1 || '%') AS webhooks`,
        [secret],
      );
      assert.deepEqual(rows[0], { attempts: 0, audit: 0, webhooks: 0 });
      assert.ok(!JSON.stringify(s.logs).includes(secret), 'a log line holds the secret');
    }
  });
});
