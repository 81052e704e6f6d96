import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { codes, startServer, storedSecrets, type GqlResult, type TestServer } from '../kit/index.js';

// Webhook configuration through the HTTP API: CRUD, paging, write-only
// secrets, the catalog, API keys and the viewer.

const FIELDS = `id name destinationUrl hasBearerToken hasHmacSecret generatedHmacSecret status statusReason createdAt updatedAt
  subscriptions { id resource action eventType createdAt }`;
const CREATE = `mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { ${FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateWebhookInput!) { updateWebhook(id: $id, input: $input) { ${FIELDS} } }`;
const GET = `query($id: ID!) { webhook(id: $id) { ${FIELDS} } }`;
const LIST = `query($first: Int, $after: String, $status: WebhookStatus) {
  webhooks(first: $first, after: $after, status: $status) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ${FIELDS} } }
  }
}`;

const show = (r: GqlResult) => JSON.stringify(r);

function ok<T = any>(r: GqlResult<T>): T {
  assert.equal(r.errors, undefined, show(r));
  assert.ok(r.data, show(r));
  return r.data;
}

describe('webhooks over HTTP', () => {
  let s: TestServer;

  before(async () => {
    // No worker: sendTestEvent only queues, and no request should leave the machine.
    s = await startServer('webhooks', { env: { HOOKLINE_WORKER: 'false' } });
  });
  after(async () => {
    await s.stop();
  });

  const create = async (input: Record<string, unknown>) =>
    ok(await s.gql(CREATE, { input: { destinationUrl: 'https://example.com/hook', ...input } })).createWebhook;

  describe('CRUD', () => {
    let id: string;

    it('creates with subscriptions', async () => {
      const w = await create({
        name: '  CRM sync  ',
        destinationUrl: 'https://crm.example.com/hooks/lms',
        subscriptions: [
          { resource: 'ENROLLMENTS', action: 'COMPLETE' },
          { resource: 'USERS', action: 'CREATE' },
          { resource: 'LIVE_TRAINING_REGISTRATIONS', action: 'DELETE' },
        ],
      });
      id = w.id;
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal(w.name, 'CRM sync');
      assert.equal(w.destinationUrl, 'https://crm.example.com/hooks/lms');
      assert.equal(w.status, 'ACTIVE');
      assert.equal(w.statusReason, null);
      assert.equal(w.hasBearerToken, false);
      assert.equal(w.hasHmacSecret, false);
      assert.equal(w.generatedHmacSecret, null);
      assert.ok(!Number.isNaN(Date.parse(w.createdAt)));
      assert.deepEqual(w.subscriptions.map((x: { eventType: string }) => x.eventType).sort(), [
        'enrollment.completed',
        'live_training_registration.deleted',
        'user.created',
      ]);
      const enr = w.subscriptions.find((x: { eventType: string }) => x.eventType === 'enrollment.completed');
      assert.deepEqual([enr.resource, enr.action], ['ENROLLMENTS', 'COMPLETE']);
      const { rows } = await s.db.pool.query(
        'SELECT count(*)::int AS n FROM webhook_subscriptions WHERE webhook_id = $1',
        [id],
      );
      assert.equal(rows[0].n, 3);
    });

    it('creates without subscriptions', async () => {
      const w = await create({ name: 'bare' });
      assert.deepEqual(w.subscriptions, []);
    });

    it('gets it by id', async () => {
      const w = ok(await s.gql(GET, { id })).webhook;
      assert.equal(w.id, id);
      assert.equal(w.name, 'CRM sync');
      assert.equal(w.subscriptions.length, 3);
    });

    it('updates name and url, leaving the rest alone', async () => {
      const before = ok(await s.gql(GET, { id })).webhook;
      const w = ok(
        await s.gql(UPDATE, { id, input: { name: 'CRM sync v2', destinationUrl: 'https://crm.example.com/v2' } }),
      ).updateWebhook;
      assert.equal(w.name, 'CRM sync v2');
      assert.equal(w.destinationUrl, 'https://crm.example.com/v2');
      assert.deepEqual(w.subscriptions, before.subscriptions);
      assert.equal(w.createdAt, before.createdAt);
      assert.ok(Date.parse(w.updatedAt) >= Date.parse(before.updatedAt));
      const again = ok(await s.gql(GET, { id })).webhook;
      assert.equal(again.name, 'CRM sync v2');
      assert.equal(again.destinationUrl, 'https://crm.example.com/v2');

      // Only the name: the url stays.
      const n = ok(await s.gql(UPDATE, { id, input: { name: 'CRM' } })).updateWebhook;
      assert.equal(n.destinationUrl, 'https://crm.example.com/v2');
      assert.equal(n.name, 'CRM');
    });

    it('adds and removes subscriptions', async () => {
      const added = ok(
        await s.gql(
          `mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: COURSES, action: UPDATE}, {resource: PROGRAMS, action: DELETE}]) { ${FIELDS} } }`,
          { id },
        ),
      ).addWebhookSubscriptions;
      assert.deepEqual(added.subscriptions.map((x: { eventType: string }) => x.eventType).sort(), [
        'course.updated',
        'enrollment.completed',
        'live_training_registration.deleted',
        'program.deleted',
        'user.created',
      ]);
      const removed = ok(
        await s.gql(
          `mutation($id: ID!) { removeWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: CREATE}, {resource: PROGRAMS, action: DELETE}]) { ${FIELDS} } }`,
          { id },
        ),
      ).removeWebhookSubscriptions;
      assert.deepEqual(removed.subscriptions.map((x: { eventType: string }) => x.eventType).sort(), [
        'course.updated',
        'enrollment.completed',
        'live_training_registration.deleted',
      ]);
      const { rows } = await s.db.pool.query(
        'SELECT resource, action FROM webhook_subscriptions WHERE webhook_id = $1 ORDER BY resource, action',
        [id],
      );
      assert.deepEqual(rows, [
        { resource: 'COURSES', action: 'UPDATE' },
        { resource: 'ENROLLMENTS', action: 'COMPLETE' },
        { resource: 'LIVE_TRAINING_REGISTRATIONS', action: 'DELETE' },
      ]);
      // A removed pair can be added again.
      const readd = ok(
        await s.gql(
          `mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: CREATE}]) { id subscriptions { eventType } } }`,
          { id },
        ),
      );
      assert.ok(
        readd.addWebhookSubscriptions.subscriptions.some((x: { eventType: string }) => x.eventType === 'user.created'),
      );
    });

    it('pauses (PAUSED with a reason) and resumes (ACTIVE, reason cleared)', async () => {
      const p = ok(await s.gql(`mutation($id: ID!) { pauseWebhook(id: $id) { ${FIELDS} } }`, { id })).pauseWebhook;
      assert.equal(p.status, 'PAUSED');
      assert.equal(typeof p.statusReason, 'string');
      assert.ok(p.statusReason.length > 0);
      assert.match(p.statusReason, /test SUPPORT/, 'the reason names who paused it');
      const got = ok(await s.gql(GET, { id })).webhook;
      assert.equal(got.status, 'PAUSED');
      assert.equal(got.statusReason, p.statusReason);

      // Pausing again is harmless.
      const again = ok(
        await s.gql(`mutation($id: ID!) { pauseWebhook(id: $id) { status statusReason } }`, { id }),
      ).pauseWebhook;
      assert.deepEqual(again, { status: 'PAUSED', statusReason: p.statusReason });

      const r = ok(await s.gql(`mutation($id: ID!) { resumeWebhook(id: $id) { ${FIELDS} } }`, { id })).resumeWebhook;
      assert.equal(r.status, 'ACTIVE');
      assert.equal(r.statusReason, null);
      const { rows } = await s.db.pool.query('SELECT status, status_reason FROM webhooks WHERE id = $1', [id]);
      assert.deepEqual(rows[0], { status: 'ACTIVE', status_reason: null });
    });

    it('deletes: true, then gone from webhook(id), webhooks and a second delete is NOT_FOUND', async () => {
      const d = await s.gql('mutation($id: ID!) { deleteWebhook(id: $id) }', { id });
      assert.deepEqual(d, { data: { deleteWebhook: true } });
      assert.deepEqual(await s.gql('query($id: ID!) { webhook(id: $id) { id } }', { id }), { data: { webhook: null } });
      const list = ok(await s.gql(LIST, { first: 100 })).webhooks;
      assert.ok(!list.edges.some((e: { node: { id: string } }) => e.node.id === id));
      assert.equal(list.totalCount, list.edges.length);

      const second = await s.gql('mutation($id: ID!) { deleteWebhook(id: $id) }', { id });
      assert.deepEqual(codes(second), ['NOT_FOUND'], show(second));
      for (const q of [
        'mutation($id: ID!) { updateWebhook(id: $id, input: {name: "zombie"}) { id } }',
        'mutation($id: ID!) { pauseWebhook(id: $id) { id } }',
        'mutation($id: ID!) { resumeWebhook(id: $id) { id } }',
        'mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: PROGRAMS, action: CREATE}]) { id } }',
        'mutation($id: ID!) { sendTestEvent(webhookId: $id) { id } }',
      ]) {
        const r = await s.gql(q, { id });
        assert.deepEqual(codes(r), ['NOT_FOUND'], `${q}: ${show(r)}`);
      }
      const subs = await s.db.pool.query('SELECT count(*)::int AS n FROM webhook_subscriptions WHERE webhook_id = $1', [
        id,
      ]);
      assert.equal(subs.rows[0].n, 0, 'a deleted webhook keeps no subscriptions (it must receive nothing)');
      const { rows } = await s.db.pool.query('SELECT name FROM webhooks WHERE id = $1', [id]);
      assert.equal(
        rows[0]?.name,
        'CRM',
        'the row stays for the delivery log; update after delete must not have renamed it',
      );
    });
  });

  describe('paging', () => {
    const created: string[] = [];
    let before: number;
    let beforeActive: number;

    it('pages 25 new webhooks 10 at a time, newest first, each exactly once', async () => {
      before = ok(await s.gql(LIST, { first: 1 })).webhooks.totalCount;
      beforeActive = ok(await s.gql(LIST, { first: 1, status: 'ACTIVE' })).webhooks.totalCount;
      for (let i = 0; i < 25; i++) created.push((await create({ name: `page ${i}` })).id);

      const seen: { id: string; createdAt: string }[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const page: any = ok(await s.gql(LIST, { first: 10, after })).webhooks;
        pages++;
        assert.equal(page.totalCount, before + 25, 'totalCount counts everything, not the page');
        assert.ok(page.edges.length <= 10);
        for (const e of page.edges) seen.push({ id: e.node.id, createdAt: e.node.createdAt });
        assert.equal(page.pageInfo.endCursor, page.edges.at(-1)?.cursor ?? null);
        if (!page.pageInfo.hasNextPage) break;
        assert.equal(page.edges.length, 10, 'a page before the last is full');
        after = page.pageInfo.endCursor;
        assert.ok(pages < 20, 'paging does not terminate');
      }
      assert.equal(pages, Math.ceil((before + 25) / 10));
      assert.equal(seen.length, before + 25);
      assert.equal(new Set(seen.map((x) => x.id)).size, seen.length, 'no id twice');
      for (const id of created)
        assert.ok(
          seen.some((x) => x.id === id),
          `${id} missing`,
        );

      // Newest first, ties broken by id descending: the keyset order.
      for (let i = 1; i < seen.length; i++) {
        const a = seen[i - 1]!;
        const b = seen[i]!;
        const ta = Date.parse(a.createdAt);
        const tb = Date.parse(b.createdAt);
        assert.ok(ta > tb || (ta === tb && a.id > b.id), `order broken at ${i}: ${JSON.stringify([a, b])}`);
      }
      // Ours were created one after another: their relative order is the reverse of creation.
      const ours = seen.filter((x) => created.includes(x.id));
      const createdAt = new Map(ours.map((x) => [x.id, Date.parse(x.createdAt)]));
      for (let i = 1; i < created.length; i++) {
        assert.ok(createdAt.get(created[i]!)! >= createdAt.get(created[i - 1]!)!);
      }
      const positions = created.map((id) => ours.findIndex((x) => x.id === id));
      for (let i = 1; i < created.length; i++) {
        if (createdAt.get(created[i]!) !== createdAt.get(created[i - 1]!)) {
          assert.ok(positions[i]! < positions[i - 1]!, `webhook ${i} created later must come earlier`);
        }
      }
    });

    it('an empty final page: paging past the end returns nothing', async () => {
      const all = ok(await s.gql(LIST, { first: 100 })).webhooks;
      const last = all.edges.at(-1).cursor;
      const page = ok(await s.gql(LIST, { first: 10, after: last })).webhooks;
      assert.deepEqual(page.edges, []);
      assert.deepEqual(page.pageInfo, { hasNextPage: false, endCursor: null });
    });

    it('filters by status, with paging and totalCount', async () => {
      const paused = created.slice(3, 8);
      for (const id of paused) ok(await s.gql('mutation($id: ID!) { pauseWebhook(id: $id) { id } }', { id }));

      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = ok(await s.gql(LIST, { first: 2, after, status: 'PAUSED' })).webhooks;
        assert.equal(page.totalCount, 5);
        for (const e of page.edges) {
          assert.equal(e.node.status, 'PAUSED');
          seen.push(e.node.id);
        }
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      assert.deepEqual([...seen].sort(), [...paused].sort());

      const active = ok(await s.gql(LIST, { first: 100, status: 'ACTIVE' })).webhooks;
      assert.equal(active.totalCount, beforeActive + 20);
      assert.ok(
        active.edges.every(
          (e: { node: { status: string; id: string } }) => e.node.status === 'ACTIVE' && !paused.includes(e.node.id),
        ),
      );
      assert.deepEqual(ok(await s.gql(LIST, { status: 'DISABLED' })).webhooks.totalCount, 0);

      // Deleted ones leave the count.
      ok(await s.gql('mutation($id: ID!) { deleteWebhook(id: $id) }', { id: paused[0] }));
      assert.equal(ok(await s.gql(LIST, { status: 'PAUSED' })).webhooks.totalCount, 4);
      assert.equal(ok(await s.gql(LIST, {})).webhooks.totalCount, before + 24);
    });

    it('defaults to 20 per page', async () => {
      const page = ok(await s.gql(LIST, {})).webhooks;
      assert.equal(page.edges.length, 20);
      assert.equal(page.pageInfo.hasNextPage, true);
    });

    it('search: part of a name or destination URL in any case; LIKE wildcards are plain text', async () => {
      const crm = await create({ name: 'CRM sync (search)' });
      const crm2 = await create({ name: 'nightly crm export', destinationUrl: 'https://example.com/x' });
      const partner = await create({ name: 'billing (search)', destinationUrl: 'https://hooks.PARTNER.example/in' });
      const percent = await create({ name: '100% done' });
      const snake = await create({ name: 'snake_case hook' });
      const decoy = await create({ name: 'snakeXcase hook' });
      const SEARCH = `query($q: String!) { webhooks(search: $q, first: 100) { totalCount edges { node { id } } } }`;
      const found = async (q: string) => {
        const r = ok(await s.gql(SEARCH, { q })).webhooks;
        assert.equal(r.totalCount, r.edges.length);
        return r.edges.map((e: { node: { id: string } }) => e.node.id).sort();
      };
      assert.deepEqual(await found('crm'), [crm.id, crm2.id].sort());
      assert.deepEqual(await found('partner.example'), [partner.id]);
      assert.deepEqual(await found('%'), [percent.id], '% matches itself only');
      assert.deepEqual(await found('e_c'), [snake.id], '_ matches itself only (not the X of the decoy)');
      assert.deepEqual(await found('no such webhook'), []);
      const empty = await s.gql(SEARCH, { q: '' });
      assert.equal(empty.errors?.[0]?.message, 'search: expected 1 to 200 characters of a name or destination URL');
      for (const w of [crm, crm2, partner, percent, snake, decoy]) {
        ok(await s.gql('mutation($id: ID!) { deleteWebhook(id: $id) }', { id: w.id }));
      }
    });
  });

  describe('write-only secrets', () => {
    const BEARER = 'bearer-SECRET-7f3a9c1e5d';
    const HMAC = 'hmac-SECRET-0b8e4d2f6a';
    const NEW_BEARER = 'bearer-ROTATED-91c2e7';
    let id: string;
    const bodies: string[] = [];

    const raw = async (query: string, variables: Record<string, unknown>) => {
      const r = await s.gql(query, variables);
      const text = JSON.stringify(r);
      bodies.push(text);
      return r;
    };

    it('create with bearerToken and hmacSecret: has* true, stored, never echoed', async () => {
      const r = await raw(CREATE, {
        input: { name: 'secretive', destinationUrl: 'https://example.com/s', bearerToken: BEARER, hmacSecret: HMAC },
      });
      const w = ok(r).createWebhook;
      id = w.id;
      assert.equal(w.hasBearerToken, true);
      assert.equal(w.hasHmacSecret, true);
      assert.equal(w.generatedHmacSecret, null, 'a secret the caller gave is not echoed back');
      assert.deepEqual(await storedSecrets(s, id), { bearer_token: BEARER, hmac_secret: HMAC });
    });

    it('no query or mutation response contains a secret', async () => {
      ok(await raw(GET, { id }));
      ok(await raw(LIST, { first: 100 }));
      ok(await raw(UPDATE, { id, input: { name: 'secretive 2' } }));
      ok(await raw(UPDATE, { id, input: { bearerToken: NEW_BEARER } }));
      ok(await raw(`mutation($id: ID!) { pauseWebhook(id: $id) { ${FIELDS} } }`, { id }));
      ok(await raw(`mutation($id: ID!) { resumeWebhook(id: $id) { ${FIELDS} } }`, { id }));
      ok(
        await raw(
          `mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: UPDATE}]) { ${FIELDS} } }`,
          { id },
        ),
      );
      ok(await raw(`mutation($id: ID!) { sendTestEvent(webhookId: $id) { id webhook { ${FIELDS} } } }`, { id }));
      ok(await raw(`query { deliveries(first: 50) { edges { node { id webhook { ${FIELDS} } } } } }`, {}));
      assert.ok(bodies.length >= 10);
      for (const text of bodies) {
        for (const secret of [BEARER, HMAC, NEW_BEARER])
          assert.ok(!text.includes(secret), `response leaks a secret: ${text}`);
      }
      const rows = [await storedSecrets(s, id)];
      assert.deepEqual(
        rows[0],
        { bearer_token: NEW_BEARER, hmac_secret: HMAC },
        'rotation replaced the token, kept the secret',
      );
    });

    it('introspection: no Webhook field exposes a secret or token', async () => {
      const r = ok(await s.gql('{ __type(name: "Webhook") { fields { name } } }'));
      const names: string[] = r.__type.fields.map((f: { name: string }) => f.name);
      assert.ok(names.includes('destinationUrl'), 'introspection returned the Webhook fields');
      // The one-time generated secret, presence flags, and the end of a rotation's overlap: no stored value.
      assert.deepEqual(names.filter((n) => /secret|token/i.test(n)).sort(), [
        'generatedHmacSecret',
        'hasBearerToken',
        'hasHmacSecret',
        'previousSecretExpiresAt',
      ]);
      // Nor any other output type (ApiKey, CreatedApiKey.token aside).
      const all = ok(await s.gql('{ __schema { types { name kind fields { name } } } }'));
      const leaks = all.__schema.types
        .filter((t: { kind: string; name: string }) => t.kind === 'OBJECT' && !t.name.startsWith('__'))
        .flatMap((t: { name: string; fields: { name: string }[] }) => t.fields.map((f) => `${t.name}.${f.name}`))
        .filter((n: string) => /secret|token|hash/i.test(n));
      // The values shown once (a new token, a generated or rotated secret), and metadata about secrets.
      assert.deepEqual(leaks.sort(), [
        'CreatedApiKey.token',
        'Mutation.rotateWebhookSecret',
        'RotatedWebhookSecret.previousSecretExpiresAt',
        'RotatedWebhookSecret.publicKey',
        'RotatedWebhookSecret.secret',
        'RotatedWebhookSecret.webhook',
        'Webhook.generatedHmacSecret',
        'Webhook.hasBearerToken',
        'Webhook.hasHmacSecret',
        'Webhook.previousSecretExpiresAt',
        // Whether a custom header is secret; its value is then null.
        'WebhookHeader.secret',
      ]);
    });

    it('generateHmacSecret returns the secret once, and it is the one stored', async () => {
      const w = await create({ name: 'generated', generateHmacSecret: true });
      assert.match(w.generatedHmacSecret, /^whsec_[A-Za-z0-9+/]{32}$/);
      assert.equal(Buffer.from(w.generatedHmacSecret.slice(6), 'base64').length, 24);
      assert.equal(w.hasHmacSecret, true);
      const rows = [await storedSecrets(s, w.id)];
      assert.equal(
        rows[0]!.hmac_secret,
        w.generatedHmacSecret,
        'deliveries are signed with the secret the caller was shown',
      );

      const later = ok(await s.gql(GET, { id: w.id })).webhook;
      assert.equal(later.generatedHmacSecret, null);
      assert.equal(later.hasHmacSecret, true);
      const listed = ok(await s.gql(LIST, { first: 100 })).webhooks.edges.find(
        (e: { node: { id: string } }) => e.node.id === w.id,
      );
      assert.equal(listed.node.generatedHmacSecret, null);
      const upd = ok(await s.gql(UPDATE, { id: w.id, input: { name: 'generated 2' } })).updateWebhook;
      assert.equal(upd.generatedHmacSecret, null);
      for (const text of [JSON.stringify(later), JSON.stringify(listed), JSON.stringify(upd)]) {
        assert.ok(!text.includes(w.generatedHmacSecret));
      }

      const other = await create({ name: 'generated other', generateHmacSecret: true });
      assert.notEqual(other.generatedHmacSecret, w.generatedHmacSecret);
    });

    it('a whsec_ secret of the right shape is accepted as given', async () => {
      const secret = `whsec_${Buffer.alloc(24, 7).toString('base64')}`;
      const w = await create({ name: 'own whsec', hmacSecret: secret });
      assert.equal(w.hasHmacSecret, true);
      const rows = [await storedSecrets(s, w.id)];
      assert.equal(rows[0]!.hmac_secret, secret);
    });

    it('clearBearerToken / clearHmacSecret remove the secrets', async () => {
      const w = ok(await s.gql(UPDATE, { id, input: { clearBearerToken: true } })).updateWebhook;
      assert.equal(w.hasBearerToken, false);
      assert.equal(w.hasHmacSecret, true);
      let rows = [await storedSecrets(s, id)];
      assert.deepEqual(rows[0], { bearer_token: null, hmac_secret: HMAC });

      const h = ok(await s.gql(UPDATE, { id, input: { clearHmacSecret: true } })).updateWebhook;
      assert.equal(h.hasHmacSecret, false);
      rows = [await storedSecrets(s, id)];
      assert.deepEqual(rows[0], { bearer_token: null, hmac_secret: null });

      const set = ok(await s.gql(UPDATE, { id, input: { bearerToken: BEARER } })).updateWebhook;
      assert.equal(set.hasBearerToken, true);
      // clear*: false is "leave alone".
      const keep = ok(
        await s.gql(UPDATE, { id, input: { clearBearerToken: false, clearHmacSecret: false } }),
      ).updateWebhook;
      assert.equal(keep.hasBearerToken, true);
    });
  });

  describe('resources', () => {
    it("lists the catalog's six resources and Hookline's own notices", async () => {
      const r = ok(await s.gql('{ resources { type name actions eventTypes payloadFormat payloadSchema } }')).resources;
      assert.deepEqual(r.map((x: { type: string }) => x.type).sort(), [
        'COURSES',
        'ENROLLMENTS',
        'LIVE_TRAININGS',
        'LIVE_TRAINING_REGISTRATIONS',
        'PROGRAMS',
        'USERS',
        'WEBHOOKS',
      ]);
      const notices = r.find((x: { type: string }) => x.type === 'WEBHOOKS');
      assert.deepEqual(notices.eventTypes, ['webhook.failing', 'webhook.recovered', 'webhook.disabled']);
      assert.equal(notices.payloadFormat, 'Webhook notice object');
      const enr = r.find((x: { type: string }) => x.type === 'ENROLLMENTS');
      assert.ok(enr.eventTypes.includes('enrollment.completed'));
      assert.ok(enr.actions.includes('COMPLETE'));
      assert.equal(enr.eventTypes.length, enr.actions.length);
      for (const x of r) {
        assert.ok(x.payloadSchema.required.includes('id'), `${x.type} payload requires id`);
        assert.equal(typeof x.payloadFormat, 'string');
        assert.ok(x.name.length > 0);
        if (x.type !== 'ENROLLMENTS') assert.ok(!x.actions.includes('COMPLETE'), `${x.type} has no COMPLETE`);
      }
      const users = r.find((x: { type: string }) => x.type === 'USERS');
      assert.deepEqual([...users.eventTypes].sort(), ['user.created', 'user.deleted', 'user.updated']);
      assert.equal(users.payloadFormat, 'User object');
    });
  });

  describe('API keys', () => {
    it('createApiKey returns the token once; lists and the DB never hold it', async () => {
      const c = ok(
        await s.gql(
          'mutation { createApiKey(name: "  dashboard  ", role: VIEWER) { token apiKey { id name role createdAt revokedAt } } }',
        ),
      ).createApiKey;
      assert.match(c.token, /^hkl_[A-Za-z0-9_-]{43}$/);
      assert.equal(c.apiKey.name, 'dashboard');
      assert.equal(c.apiKey.role, 'VIEWER');
      assert.equal(c.apiKey.revokedAt, null);

      const listed = await s.gql('{ apiKeys { id name role createdAt revokedAt } }');
      const text = JSON.stringify(listed);
      const entry = ok(listed).apiKeys.find((k: { id: string }) => k.id === c.apiKey.id);
      assert.deepEqual(entry, c.apiKey);
      const hash = createHash('sha256').update(c.token).digest('hex');
      assert.ok(!text.includes(c.token), 'list contains the token');
      assert.ok(!text.includes(c.token.slice(4)), 'list contains the token body');
      assert.ok(!text.includes(hash), 'list contains the hash');
      const fields = ok(await s.gql('{ __type(name: "ApiKey") { fields { name } } }')).__type.fields.map(
        (f: { name: string }) => f.name,
      );
      assert.ok(!fields.some((f: string) => /token|hash/i.test(f)), `ApiKey fields: ${fields}`);

      const { rows } = await s.db.pool.query('SELECT * FROM api_keys WHERE id = $1', [c.apiKey.id]);
      assert.equal(rows.length, 1);
      assert.notEqual(rows[0].token_hash, c.token);
      assert.match(rows[0].token_hash, /^[0-9a-f]{64}$/);
      assert.equal(rows[0].token_hash, hash);
      assert.ok(!JSON.stringify(rows[0]).includes(c.token.slice(4)), 'no column stores the token');

      // The token works, with the role it was given.
      const v = ok(await s.gql('{ viewer { id name role } }', {}, c.token)).viewer;
      assert.deepEqual(v, { id: c.apiKey.id, name: 'dashboard', role: 'VIEWER' });
      assert.deepEqual(codes(await s.gql('{ apiKeys { id } }', {}, c.token)), ['FORBIDDEN']);

      const second = ok(
        await s.gql('mutation { createApiKey(name: "dashboard", role: VIEWER) { token } }'),
      ).createApiKey;
      assert.notEqual(second.token, c.token);
    });

    it('revokeApiKey sets revokedAt, shows in the list, and is idempotent', async () => {
      const c = ok(
        await s.gql('mutation { createApiKey(name: "old", role: PUBLISHER) { token apiKey { id } } }'),
      ).createApiKey;
      const r1 = ok(
        await s.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', { id: c.apiKey.id }),
      ).revokeApiKey;
      assert.ok(!Number.isNaN(Date.parse(r1.revokedAt)));
      const r2 = ok(
        await s.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', { id: c.apiKey.id }),
      ).revokeApiKey;
      assert.equal(r2.revokedAt, r1.revokedAt, 'revoking twice keeps the first time');
      const listed = ok(await s.gql('{ apiKeys { id revokedAt } }')).apiKeys.find(
        (k: { id: string }) => k.id === c.apiKey.id,
      );
      assert.equal(listed.revokedAt, r1.revokedAt);
    });
  });

  describe('viewer', () => {
    it("returns the caller's key and role", async () => {
      const keys = ok(await s.gql('{ apiKeys { id name role } }')).apiKeys;
      for (const role of ['SUPPORT', 'PUBLISHER', 'VIEWER'] as const) {
        const v = ok(await s.gql('{ viewer { id name role revokedAt } }', {}, role)).viewer;
        assert.equal(v.role, role);
        assert.equal(v.revokedAt, null);
        const mine = keys.find((k: { name: string }) => k.name === `test ${role}`);
        assert.equal(v.id, mine.id);
      }
    });
  });
});
