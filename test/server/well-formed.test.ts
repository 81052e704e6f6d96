import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { codes, publishRaw, startServer, type GqlResult, type TestServer } from '../kit/index.js';

// Well-formed input only: a lone UTF-16 surrogate anywhere is refused naming
// the field (never stored as U+FFFD, never colliding two idempotency keys),
// payload nesting is bounded, forged cursors and persisted-query requests are
// refused with contract codes. Nothing is stored by any of these.

const LONE = '\ud800';

async function counts(s: TestServer): Promise<Record<string, number>> {
  const { rows } = await s.db.pool.query(
    `SELECT (SELECT count(*) FROM webhooks)::int AS webhooks, (SELECT count(*) FROM events)::int AS events,
            (SELECT count(*) FROM api_keys)::int AS keys, (SELECT count(*) FROM webhook_subscriptions)::int AS subs`,
  );
  return rows[0];
}

describe('well-formed input only', () => {
  let s: TestServer;

  before(async () => {
    s = await startServer('well_formed', { env: { HOOKLINE_WORKER: 'false' } });
  });
  after(async () => {
    await s?.stop();
  });

  const CREATE = 'mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }';
  const base = { name: 'ok', destinationUrl: 'https://example.com/hook' };
  const cases: [string, string, () => Promise<any>][] = [
    ['a webhook name', 'input.name', () => s.gql(CREATE, { i: { ...base, name: `a${LONE}b` } })],
    [
      'a destination URL',
      'input.destinationUrl',
      () => s.gql(CREATE, { i: { ...base, destinationUrl: `https://example.com/${LONE}` } }),
    ],
    ['a bearer token', 'input.bearerToken', () => s.gql(CREATE, { i: { ...base, bearerToken: `t${LONE}` } })],
    [
      'an API key name',
      'name',
      () => s.gql('mutation($n: String!) { createApiKey(name: $n, role: VIEWER) { token } }', { n: LONE }),
    ],
    [
      'an idempotency key',
      'input.idempotencyKey',
      () => publishRaw(s, { resource: 'USERS', action: 'CREATE', payload: { id: '1' }, idempotencyKey: `k${LONE}` }),
    ],
    [
      'a payload value',
      'input.payload.first_name',
      () => publishRaw(s, { resource: 'USERS', action: 'CREATE', payload: { id: '1', first_name: `Ada${LONE}` } }),
    ],
    [
      'a payload key',
      'input.payload',
      () => publishRaw(s, { resource: 'USERS', action: 'CREATE', payload: { id: '1', [`k${LONE}`]: 1 } }),
    ],
    [
      'a nested payload value',
      'input.payload.items[0].item_id',
      () =>
        publishRaw(s, {
          resource: 'PROGRAMS',
          action: 'CREATE',
          payload: { id: '1', items: [{ item_type: 'c', item_id: `x${LONE}` }] },
        }),
    ],
    [
      'a value in a variable used inside a literal',
      'input.payload',
      () =>
        s.gql(
          'mutation($p: JSONObject!) { publishEvent(input: {resource: USERS, action: CREATE, payload: $p}) { id } }',
          { p: { id: LONE } },
          'PUBLISHER',
        ),
    ],
  ];
  for (const [label, field, send] of cases) {
    it(`a lone surrogate in ${label} → BAD_USER_INPUT naming ${field}, nothing stored`, async () => {
      const before = await counts(s);
      const r = await send();
      assert.deepEqual(codes(r), ['BAD_USER_INPUT'], JSON.stringify(r));
      assert.ok(
        String(r.errors[0].extensions.field).startsWith(field),
        `${r.errors[0].extensions.field} names ${field}`,
      );
      assert.match(r.errors[0].message, /well-formed Unicode/);
      assert.deepEqual(await counts(s), before);
    });
  }

  it('two idempotency keys that differ only in a lone surrogate are not the same key: the second is refused, not dropped', async () => {
    const first = await publishRaw(s, {
      resource: 'USERS',
      action: 'CREATE',
      payload: { id: 'a' },
      idempotencyKey: `key-${LONE}-a`,
    });
    const second = await publishRaw(s, {
      resource: 'USERS',
      action: 'CREATE',
      payload: { id: 'b' },
      idempotencyKey: `key-${LONE}-b`,
    });
    assert.deepEqual([codes(first), codes(second)], [['BAD_USER_INPUT'], ['BAD_USER_INPUT']]);
  });

  it('well-formed text outside the Basic Multilingual Plane is accepted as it is', async () => {
    const name = 'Zoë 🚀 中文 \u{1F600}';
    const r = await s.gql(CREATE, { i: { ...base, name } });
    const { rows } = await s.db.pool.query('SELECT name FROM webhooks WHERE id = $1', [r.data.createWebhook.id]);
    assert.equal(rows[0].name, name);
  });

  /** The publish request's body as text: a 20,000-level payload is more than JSON.stringify can nest. */
  const nestedBody = (levels: number) =>
    `{"query":"mutation($p: JSONObject!) { publishEvent(input: {resource: USERS, action: CREATE, payload: $p}) { id } }",` +
    `"variables":{"p":{"id":"deep","nested":${'{"n":'.repeat(levels - 1)}{"leaf":true}${'}'.repeat(levels - 1)}}}}`;
  const publishNested = async (levels: number) => {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.keys.PUBLISHER}` },
      body: nestedBody(levels),
    });
    return (await res.json()) as GqlResult;
  };
  for (const [levels, why] of [
    [33, 'one level past the payload limit'],
    [20_000, 'deep enough to overflow a recursive walk'],
  ] as const) {
    it(`a payload nested ${levels} levels (${why}) → BAD_USER_INPUT naming input.payload, nothing stored`, async () => {
      const before = await counts(s);
      const r = await publishNested(levels);
      assert.deepEqual(codes(r), ['BAD_USER_INPUT'], JSON.stringify(r).slice(0, 300));
      assert.match(String(r.errors![0]!.extensions!.field), /^input\.payload/);
      assert.match(r.errors![0]!.message, /nested more than (32|64) levels/);
      assert.deepEqual(await counts(s), before);
    });
  }

  it('a payload nested 31 levels is accepted', async () => {
    const r = await publishNested(31);
    assert.equal(r.errors, undefined, JSON.stringify(r));
  });

  const b64 = (x: string) => Buffer.from(x).toString('base64url');
  for (const [label, cursor] of [
    ['an id that is not a UUID', b64(`deliveries|2026-11-30T00:00:00.000Z|${'-'.repeat(36)}`)],
    ['a date PostgreSQL cannot hold', b64(`deliveries|-271821-04-20T00:00:00.000Z|${randomUUID()}`)],
    ["another list's cursor", b64(`webhooks|2026-11-30T00:00:00.000Z|${randomUUID()}`)],
    ['plain garbage', 'not a cursor'],
  ]) {
    it(`a forged cursor (${label}) → BAD_USER_INPUT: after is not a cursor of this list`, async () => {
      const r = await s.gql(
        'query($a: String) { deliveries(after: $a) { edges { cursor } } }',
        { a: cursor },
        'VIEWER',
      );
      assert.deepEqual(codes(r), ['BAD_USER_INPUT'], JSON.stringify(r));
      assert.equal(r.errors![0]!.extensions!.field, 'after');
      assert.match(r.errors![0]!.message, /not a cursor of this list/);
    });
  }

  for (const [label, extensions] of [
    ['a persisted-query hash mismatch', { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } }],
    ['a persisted-query lookup without a query', { persistedQuery: { version: 1, sha256Hash: 'b'.repeat(64) } }],
  ] as const) {
    it(`${label} → HTTP 400 with a contract code`, async () => {
      const body: Record<string, unknown> = { extensions };
      if (label.includes('mismatch')) body.query = '{ viewer { id } }';
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.keys.VIEWER}` },
        body: JSON.stringify(body),
      });
      const json = (await res.json()) as GqlResult;
      assert.equal(res.status, 400, JSON.stringify(json));
      assert.deepEqual(codes(json), ['BAD_USER_INPUT'], JSON.stringify(json));
    });
  }
});
