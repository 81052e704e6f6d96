import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { codes, openStored, startServer, type GqlResult, type TestServer } from '../kit/index.js';

// Every input rule: the answer is BAD_USER_INPUT naming the field, and the
// database is exactly as it was.

const CREATE = `mutation($input: CreateWebhookInput!) {
  createWebhook(input: $input) { id name destinationUrl hasBearerToken hasHmacSecret subscriptions { eventType } }
}`;
const UPDATE = `mutation($id: ID!, $input: UpdateWebhookInput!) {
  updateWebhook(id: $id, input: $input) { id name destinationUrl hasBearerToken hasHmacSecret }
}`;
const ADD = `mutation($id: ID!, $subs: [SubscriptionInput!]!) {
  addWebhookSubscriptions(webhookId: $id, subscriptions: $subs) { id subscriptions { resource action } }
}`;
const REMOVE = `mutation($id: ID!, $subs: [SubscriptionInput!]!) {
  removeWebhookSubscriptions(webhookId: $id, subscriptions: $subs) { id subscriptions { resource action } }
}`;

const show = (r: GqlResult) => JSON.stringify(r);

interface Counts {
  webhooks: number;
  webhook_subscriptions: number;
  api_keys: number;
  events: number;
  deliveries: number;
}

async function counts(s: TestServer): Promise<Counts> {
  const { rows } = await s.db.pool.query(`SELECT
    (SELECT count(*)::int FROM webhooks) AS webhooks,
    (SELECT count(*)::int FROM webhook_subscriptions) AS webhook_subscriptions,
    (SELECT count(*)::int FROM api_keys) AS api_keys,
    (SELECT count(*)::int FROM events) AS events,
    (SELECT count(*)::int FROM deliveries) AS deliveries`);
  return rows[0] as Counts;
}

/** The single error is BAD_USER_INPUT and names `field` (extensions.field when present, and the message). */
function assertBadInput(r: GqlResult, field: string): void {
  assert.deepEqual(codes(r), ['BAD_USER_INPUT'], show(r));
  const e = r.errors![0]!;
  if (e.extensions?.field !== undefined) assert.equal(e.extensions.field, field, show(r));
  assert.ok(e.message.includes(field), `message should name ${field}: ${show(r)}`);
  assert.ok(r.data == null || Object.values(r.data).every((v) => v == null), `no data expected: ${show(r)}`);
}

/** Runs `fn`, expecting BAD_USER_INPUT naming `field` and no row added, changed or removed. */
async function refused(s: TestServer, field: string, fn: () => Promise<GqlResult>): Promise<void> {
  const before = await counts(s);
  const r = await fn();
  assertBadInput(r, field);
  assert.deepEqual(await counts(s), before, `database changed after ${show(r)}`);
}

const base = (over: Record<string, unknown> = {}) => ({
  name: 'valid name',
  destinationUrl: 'https://example.com/hook',
  subscriptions: [{ resource: 'USERS', action: 'CREATE' }],
  ...over,
});

describe('input validation', () => {
  let s: TestServer;
  let strict: TestServer; // HOOKLINE_ALLOW_PRIVATE_DESTINATIONS=false
  let hookId: string;

  before(async () => {
    [s, strict] = await Promise.all([
      startServer('validation', { env: { HOOKLINE_WORKER: 'false' } }),
      startServer('validation_strict', {
        env: { HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'false', HOOKLINE_WORKER: 'false' },
      }),
    ]);
    const c = await s.gql(CREATE, {
      input: base({
        name: 'original',
        destinationUrl: 'https://example.com/original',
        bearerToken: 'orig-token',
        hmacSecret: 'orig-secret',
      }),
    });
    hookId = c.data.createWebhook.id;
  });
  after(async () => {
    await Promise.all([s?.stop(), strict?.stop()]);
  });

  async function webhookRow(id = hookId) {
    const { rows } = await s.db.pool.query(
      'SELECT name, destination_url, bearer_token, hmac_secret, status FROM webhooks WHERE id = $1',
      [id],
    );
    return rows[0];
  }

  describe('name', () => {
    for (const [label, name] of [
      ['empty', ''],
      ['whitespace only', '   \t  '],
      ['201 characters', 'n'.repeat(201)],
    ] as const) {
      it(`createWebhook refuses a ${label} name`, () =>
        refused(s, 'input.name', () => s.gql(CREATE, { input: base({ name }) })));
      it(`updateWebhook refuses a ${label} name and keeps the old one`, async () => {
        const before = await webhookRow();
        await refused(s, 'input.name', () => s.gql(UPDATE, { id: hookId, input: { name } }));
        assert.deepEqual(await webhookRow(), before);
      });
    }

    it('accepts exactly 200 characters (the limit is inclusive), trimmed', async () => {
      const name = 'x'.repeat(200);
      const r = await s.gql(CREATE, { input: base({ name: `  ${name}  ` }) });
      assert.equal(r.data?.createWebhook.name, name, show(r));
    });
  });

  describe('destinationUrl', () => {
    const longUrl = (length: number) => {
      const prefix = 'https://example.com/';
      return prefix + 'a'.repeat(length - prefix.length);
    };
    const bad: [string, string][] = [
      ['not absolute (foo)', 'foo'],
      ['not absolute (/path)', '/path'],
      ['empty', ''],
      ['ftp scheme', 'ftp://example.com/file'],
      ['javascript scheme', 'javascript:alert(1)'],
      ['file scheme', 'file:///etc/passwd'],
      ['longer than 2048 characters', longUrl(2049)],
      ['with credentials', 'https://u:p@example.com'],
      ['with a user name only', 'https://user@example.com/'],
    ];
    for (const [label, url] of bad) {
      it(`createWebhook refuses a URL ${label}`, () =>
        refused(s, 'input.destinationUrl', () => s.gql(CREATE, { input: base({ destinationUrl: url }) })));
    }

    it('accepts a URL of exactly 2048 characters', async () => {
      const url = longUrl(2048);
      const r = await s.gql(CREATE, { input: base({ destinationUrl: url }) });
      assert.equal(r.data?.createWebhook.destinationUrl, url, show(r));
    });

    it('updateWebhook with a bad URL leaves the old URL (and everything else) intact', async () => {
      const before = await webhookRow();
      for (const url of ['foo', 'ftp://example.com/', 'https://u:p@example.com/']) {
        await refused(s, 'input.destinationUrl', () =>
          s.gql(UPDATE, { id: hookId, input: { name: 'should not apply', destinationUrl: url } }),
        );
      }
      assert.deepEqual(await webhookRow(), before);
      assert.equal(before.destination_url, 'https://example.com/original');
      const q = await s.gql('query($id: ID!) { webhook(id: $id) { name destinationUrl } }', { id: hookId });
      assert.deepEqual(q.data.webhook, { name: 'original', destinationUrl: 'https://example.com/original' });
    });

    describe('private destinations with HOOKLINE_ALLOW_PRIVATE_DESTINATIONS=false', () => {
      const privateUrls = [
        'http://localhost:8080',
        'http://127.0.0.1',
        'http://10.0.0.5',
        'http://192.168.0.1',
        'http://169.254.169.254',
        'http://[::1]/',
        // The same hosts in other spellings.
        'http://LOCALHOST/',
        'http://localhost./',
        'http://api.localhost/',
        'http://127.1/',
        'http://2130706433/',
        'http://0x7f000001/',
        'http://[::ffff:127.0.0.1]/',
        'http://0.0.0.0/',
        'http://172.16.0.1/',
        'http://[fd00::1]/',
        'http://[fe80::1]/',
      ];
      for (const url of privateUrls) {
        it(`refuses ${url}`, () =>
          refused(strict, 'input.destinationUrl', () => strict.gql(CREATE, { input: base({ destinationUrl: url }) })));
      }

      it('refuses moving an existing webhook to a private address', async () => {
        const c = await strict.gql(CREATE, { input: base({ destinationUrl: 'https://example.com/public' }) });
        const id = c.data.createWebhook.id;
        await refused(strict, 'input.destinationUrl', () =>
          strict.gql(UPDATE, { id, input: { destinationUrl: 'http://10.0.0.5/' } }),
        );
        const { rows } = await strict.db.pool.query('SELECT destination_url FROM webhooks WHERE id = $1', [id]);
        assert.equal(rows[0].destination_url, 'https://example.com/public');
      });

      it('accepts public destinations there', async () => {
        for (const url of ['https://example.com', 'http://93.184.215.14/hook']) {
          const r = await strict.gql(CREATE, { input: base({ destinationUrl: url }) });
          assert.equal(r.errors, undefined, show(r));
          assert.equal(r.data.createWebhook.destinationUrl, url);
        }
      });

      it('the default test server (private allowed) accepts loopback', async () => {
        const r = await s.gql(CREATE, { input: base({ destinationUrl: 'http://127.0.0.1:9/hook' }) });
        assert.equal(r.errors, undefined, show(r));
      });
    });
  });

  describe('subscriptions', () => {
    for (const [resource, action] of [
      ['USERS', 'COMPLETE'],
      ['COURSES', 'COMPLETE'],
    ] as const) {
      it(`createWebhook refuses ${resource}/${action} (not in the catalog)`, () =>
        refused(s, 'input.subscriptions[0]', () =>
          s.gql(CREATE, { input: base({ subscriptions: [{ resource, action }] }) }),
        ));

      it(`createWebhook refuses ${resource}/${action} after a valid pair, naming its index`, () =>
        refused(s, 'input.subscriptions[1]', () =>
          s.gql(CREATE, {
            input: base({
              subscriptions: [
                { resource: 'USERS', action: 'CREATE' },
                { resource, action },
              ],
            }),
          }),
        ));

      it(`addWebhookSubscriptions refuses ${resource}/${action} and adds nothing, not even the valid pair`, () =>
        refused(s, 'subscriptions[1]', () =>
          s.gql(ADD, {
            id: hookId,
            subs: [
              { resource: 'PROGRAMS', action: 'CREATE' },
              { resource, action },
            ],
          }),
        ));
    }

    it('ENROLLMENTS/COMPLETE is accepted (the one resource with COMPLETE)', async () => {
      const r = await s.gql(CREATE, {
        input: base({ subscriptions: [{ resource: 'ENROLLMENTS', action: 'COMPLETE' }] }),
      });
      assert.deepEqual(r.data?.createWebhook.subscriptions, [{ eventType: 'enrollment.completed' }], show(r));
    });

    it('createWebhook refuses a duplicate pair in one list', () =>
      refused(s, 'input.subscriptions[2]', () =>
        s.gql(CREATE, {
          input: base({
            subscriptions: [
              { resource: 'USERS', action: 'CREATE' },
              { resource: 'USERS', action: 'UPDATE' },
              { resource: 'USERS', action: 'CREATE' },
            ],
          }),
        }),
      ));

    it('addWebhookSubscriptions refuses a duplicate pair in one list', () =>
      refused(s, 'subscriptions[1]', () =>
        s.gql(ADD, {
          id: hookId,
          subs: [
            { resource: 'COURSES', action: 'DELETE' },
            { resource: 'COURSES', action: 'DELETE' },
          ],
        }),
      ));

    it('add/remove refuse an empty list', async () => {
      await refused(s, 'subscriptions', () => s.gql(ADD, { id: hookId, subs: [] }));
      await refused(s, 'subscriptions', () => s.gql(REMOVE, { id: hookId, subs: [] }));
    });

    it('an unknown enum value in variables is BAD_USER_INPUT', async () => {
      for (const [label, fn] of [
        [
          'createWebhook resource',
          () => s.gql(CREATE, { input: base({ subscriptions: [{ resource: 'NOPE', action: 'CREATE' }] }) }),
        ],
        [
          'createWebhook action',
          () => s.gql(CREATE, { input: base({ subscriptions: [{ resource: 'USERS', action: 'NOPE' }] }) }),
        ],
        [
          'addWebhookSubscriptions resource',
          () => s.gql(ADD, { id: hookId, subs: [{ resource: 'NOPE', action: 'CREATE' }] }),
        ],
        [
          'webhooks status',
          () => s.gql('query($st: WebhookStatus) { webhooks(status: $st) { totalCount } }', { st: 'NOPE' }),
        ],
        [
          'createApiKey role',
          () => s.gql('mutation($r: ApiKeyRole!) { createApiKey(name: "x", role: $r) { token } }', { r: 'ROOT' }),
        ],
      ] as const) {
        const before = await counts(s);
        const r = await fn();
        assert.deepEqual(codes(r), ['BAD_USER_INPUT'], `${label}: ${show(r)}`);
        assert.match(r.errors![0]!.message, /NOPE|ROOT/, `${label}: the message should quote the bad value`);
        assert.equal(r.data, undefined, `${label}: ${show(r)}`);
        assert.deepEqual(await counts(s), before);
      }
    });

    it('any other invalid variable value is BAD_USER_INPUT too, not an internal error', async () => {
      for (const [label, fn] of [
        ['Int given a string', () => s.gql('query($f: Int) { webhooks(first: $f) { totalCount } }', { f: 'ten' })],
        ['required variable missing', () => s.gql('query($id: ID!) { webhook(id: $id) { id } }', {})],
        ['required input field missing', () => s.gql(CREATE, { input: { name: 'no url' } })],
        [
          'JSONObject given a string',
          () =>
            s.gql(
              'mutation($p: JSONObject!) { publishEvent(input: {resource: USERS, action: CREATE, payload: $p}) { id } }',
              { p: 'nope' },
            ),
        ],
      ] as const) {
        const before = await counts(s);
        const r = await fn();
        assert.deepEqual(codes(r), ['BAD_USER_INPUT'], `${label}: ${show(r)}`);
        assert.notEqual(r.errors![0]!.message, 'Internal server error', label);
        assert.equal(r.data, undefined, `${label}: ${show(r)}`);
        assert.deepEqual(await counts(s), before);
      }
    });

    it('addWebhookSubscriptions with an already subscribed pair → CONFLICT, nothing added', async () => {
      const before = await counts(s);
      const r = await s.gql(ADD, {
        id: hookId,
        subs: [
          { resource: 'PROGRAMS', action: 'UPDATE' },
          { resource: 'USERS', action: 'CREATE' },
        ],
      });
      assert.deepEqual(codes(r), ['CONFLICT'], show(r));
      assert.match(r.errors![0]!.message, /user\.created/);
      assert.deepEqual(await counts(s), before);
      const { rows } = await s.db.pool.query(
        'SELECT resource, action FROM webhook_subscriptions WHERE webhook_id = $1',
        [hookId],
      );
      assert.deepEqual(rows, [{ resource: 'USERS', action: 'CREATE' }]);
    });

    it('removeWebhookSubscriptions of a pair not subscribed → NOT_FOUND, nothing removed', async () => {
      const before = await counts(s);
      const r = await s.gql(REMOVE, {
        id: hookId,
        subs: [
          { resource: 'USERS', action: 'CREATE' },
          { resource: 'COURSES', action: 'CREATE' },
        ],
      });
      assert.deepEqual(codes(r), ['NOT_FOUND'], show(r));
      assert.match(r.errors![0]!.message, /course\.created/);
      assert.deepEqual(await counts(s), before);
      const { rows } = await s.db.pool.query(
        'SELECT resource, action FROM webhook_subscriptions WHERE webhook_id = $1',
        [hookId],
      );
      assert.deepEqual(rows, [{ resource: 'USERS', action: 'CREATE' }]);
    });
  });

  describe('secrets', () => {
    it('createWebhook refuses generateHmacSecret together with hmacSecret', () =>
      refused(s, 'input.generateHmacSecret', () =>
        s.gql(CREATE, { input: base({ generateHmacSecret: true, hmacSecret: 'my-own-secret' }) }),
      ));

    for (const [label, token] of [
      ['a newline', 'abc\ndef'],
      ['a carriage return', 'abc\rdef'],
      ['a space', 'abc def'],
      ['a tab', 'abc\tdef'],
      ['a non-ASCII character', 'abcé'],
      ['nothing (empty)', ''],
      ['more than 1024 characters', 't'.repeat(1025)],
    ] as const) {
      it(`createWebhook refuses a bearerToken containing ${label}`, () =>
        refused(s, 'input.bearerToken', () => s.gql(CREATE, { input: base({ bearerToken: token }) })));
    }

    it('updateWebhook refuses a bad bearerToken and keeps the old one', async () => {
      const before = await webhookRow();
      await refused(s, 'input.bearerToken', () =>
        s.gql(UPDATE, { id: hookId, input: { bearerToken: 'evil\r\nX-Injected: 1' } }),
      );
      assert.deepEqual(await webhookRow(), before);
      assert.equal(openStored('bearer_token', hookId, before.bearer_token), 'orig-token');
    });

    for (const [label, secret] of [
      ['whsec_!!!', 'whsec_!!!'],
      ['whsec_ with too few bytes', `whsec_${Buffer.alloc(8).toString('base64')}`],
      ['a newline', 'abc\ndef'],
      ['nothing (empty)', ''],
    ] as const) {
      it(`createWebhook refuses hmacSecret ${label}`, () =>
        refused(s, 'input.hmacSecret', () => s.gql(CREATE, { input: base({ hmacSecret: secret }) })));
    }

    it('updateWebhook refuses bearerToken together with clearBearerToken, changing nothing', async () => {
      const before = await webhookRow();
      await refused(s, 'input.clearBearerToken', () =>
        s.gql(UPDATE, { id: hookId, input: { bearerToken: 'new-token', clearBearerToken: true, name: 'changed' } }),
      );
      assert.deepEqual(await webhookRow(), before);
    });

    it('updateWebhook refuses hmacSecret together with clearHmacSecret, changing nothing', async () => {
      const before = await webhookRow();
      await refused(s, 'input.clearHmacSecret', () =>
        s.gql(UPDATE, { id: hookId, input: { hmacSecret: 'new-secret', clearHmacSecret: true } }),
      );
      assert.deepEqual(await webhookRow(), before);
    });
  });

  describe('createApiKey', () => {
    const KEY = 'mutation($n: String!, $r: ApiKeyRole!) { createApiKey(name: $n, role: $r) { token apiKey { id } } }';
    for (const [label, name] of [
      ['empty', ''],
      ['whitespace only', '   '],
      ['201 characters', 'k'.repeat(201)],
    ] as const) {
      it(`refuses a ${label} name`, () => refused(s, 'name', () => s.gql(KEY, { n: name, r: 'VIEWER' })));
    }
  });

  describe('paging arguments', () => {
    const lists: [string, string][] = [
      ['webhooks', 'query($f: Int, $a: String) { webhooks(first: $f, after: $a) { totalCount } }'],
      ['events', 'query($f: Int, $a: String) { events(first: $f, after: $a) { pageInfo { hasNextPage } } }'],
      ['deliveries', 'query($f: Int, $a: String) { deliveries(first: $f, after: $a) { pageInfo { hasNextPage } } }'],
    ];
    for (const [name, query] of lists) {
      for (const first of [0, 101, -1]) {
        it(`${name}(first: ${first}) → BAD_USER_INPUT first`, async () =>
          assertBadInput(await s.gql(query, { f: first }), 'first'));
      }
      it(`${name}(after: "garbage") → BAD_USER_INPUT after`, async () =>
        assertBadInput(await s.gql(query, { a: 'garbage' }), 'after'));
      it(`${name}(first: 1) and (first: 100) are accepted`, async () => {
        for (const f of [1, 100]) {
          const r = await s.gql(query, { f });
          assert.equal(r.errors, undefined, show(r));
        }
      });
    }

    it('Webhook.deliveries(first: 101) → BAD_USER_INPUT first', async () => {
      const r = await s.gql(
        'query($id: ID!) { webhook(id: $id) { id deliveries(first: 101) { pageInfo { hasNextPage } } } }',
        { id: hookId },
      );
      assert.deepEqual(codes(r), ['BAD_USER_INPUT'], show(r));
      assert.equal(r.errors![0]!.extensions?.field, 'first');
    });

    it('a cursor-looking value with a bad id is refused too', async () => {
      const forged = Buffer.from(`${new Date().toISOString()}|not-a-uuid`).toString('base64url');
      assertBadInput(await s.gql(lists[0]![1], { a: forged }), 'after');
    });
  });

  describe('unknown ids → NOT_FOUND', () => {
    const ops: [string, string, (id: string) => Record<string, unknown>][] = [
      ['updateWebhook', 'mutation($id: ID!) { updateWebhook(id: $id, input: {name: "x"}) { id } }', (id) => ({ id })],
      ['deleteWebhook', 'mutation($id: ID!) { deleteWebhook(id: $id) }', (id) => ({ id })],
      ['pauseWebhook', 'mutation($id: ID!) { pauseWebhook(id: $id) { id } }', (id) => ({ id })],
      ['resumeWebhook', 'mutation($id: ID!) { resumeWebhook(id: $id) { id } }', (id) => ({ id })],
      ['revokeApiKey', 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', (id) => ({ id })],
      ['redeliver', 'mutation($id: ID!) { redeliver(deliveryId: $id) { id } }', (id) => ({ id })],
      ['sendTestEvent', 'mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }', (id) => ({ id })],
      [
        'addWebhookSubscriptions',
        'mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: DELETE}]) { id } }',
        (id) => ({ id }),
      ],
      [
        'removeWebhookSubscriptions',
        'mutation($id: ID!) { removeWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: DELETE}]) { id } }',
        (id) => ({ id }),
      ],
      [
        'retryFailedDeliveries',
        'mutation($id: ID!) { retryFailedDeliveries(webhookId: $id, since: "2020-01-01T00:00:00Z") }',
        (id) => ({ id }),
      ],
    ];
    for (const [name, query, vars] of ops) {
      for (const id of [randomUUID(), 'abc', '']) {
        it(`${name}(${JSON.stringify(id)})`, async () => {
          const before = await counts(s);
          const r = await s.gql(query, vars(id));
          assert.deepEqual(codes(r), ['NOT_FOUND'], show(r));
          assert.deepEqual(await counts(s), before);
        });
      }
    }

    it('queries by unknown id answer null, not an error', async () => {
      for (const id of [randomUUID(), 'abc']) {
        const r = await s.gql(
          'query($id: ID!) { webhook(id: $id) { id } event(id: $id) { id } delivery(id: $id) { id } }',
          { id },
        );
        assert.deepEqual(r, { data: { webhook: null, event: null, delivery: null } });
      }
    });
  });

  describe('internal errors', () => {
    let loud: TestServer;
    before(async () => {
      loud = await startServer('validation_internal', { env: { HOOKLINE_WORKER: 'false' }, captureLog: true });
    });
    after(async () => {
      await loud?.stop();
    });

    it('an unexpected error reaches the client as INTERNAL_SERVER_ERROR only; the log has the cause', async () => {
      // A service that fails the way a driver or a bug would: with internals in its message.
      const cause = 'relation "deliveries" does not exist at QueryRunner.query (node_modules/typeorm/x.js:42)';
      const deliveries = loud.hookline.services.deliveries;
      const original = deliveries.delivery.bind(deliveries);
      let requestId: string;
      deliveries.delivery = async () => {
        throw new Error(cause);
      };
      try {
        const r = await loud.gql('query($id: ID!) { delivery(id: $id) { id } }', { id: randomUUID() }, 'VIEWER');
        requestId = String(r.errors?.[0]?.extensions?.requestId);
        assert.match(requestId, /^[0-9a-f-]{36}$/, 'the client gets the request id to quote');
        assert.deepEqual(r, {
          data: { delivery: null },
          errors: [
            {
              message: 'Internal server error',
              path: ['delivery'],
              extensions: { code: 'INTERNAL_SERVER_ERROR', requestId },
            },
          ],
        });
      } finally {
        deliveries.delivery = original;
      }
      const logged = loud.logs.filter((l) => l.msg === 'unexpected error');
      assert.equal(logged.length, 1, JSON.stringify(loud.logs));
      assert.equal(logged[0]!.requestId, requestId, 'the log line carries the id the client was given');
      assert.match(JSON.stringify(logged[0]), /relation \\"deliveries\\" does not exist/);
    });

    for (const [label, field, probe] of [
      ['createWebhook name', 'input.name', () => s.gql(CREATE, { input: base({ name: 'nul\u0000name' }) })],
      [
        'createWebhook destinationUrl',
        'input.destinationUrl',
        () => s.gql(CREATE, { input: base({ destinationUrl: 'https://example.com/a\u0000b' }) }),
      ],
      [
        'updateWebhook destinationUrl',
        'input.destinationUrl',
        () => s.gql(UPDATE, { id: hookId, input: { destinationUrl: 'https://example.com/a\u0000b' } }),
      ],
      [
        'createApiKey name',
        'name',
        () => s.gql('mutation { createApiKey(name: "nul\\u0000key", role: VIEWER) { token } }'),
      ],
    ] as const) {
      it(`a NUL character in ${label} is BAD_USER_INPUT naming ${field}, not an internal error`, () =>
        refused(s, field, probe));
    }
  });
});
