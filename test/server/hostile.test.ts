import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { CONTRACT_CODES } from '../../src/domain/errors.js';
import { eventually, startServer, wsUrl, type TestServer } from '../kit/index.js';

// A hostile sweep over both doors: over a hundred requests of every kind the
// edges must survive (malformed bodies and messages, documents built to
// crash validation, limits, ill-formed text, forged cursors, secrets in bad
// input, wrong keys). Every answer carries a contract code, no client mistake
// is an HTTP 500, no response carries a secret or internal text, no log line
// a secret, no row is added, and the server is alive afterwards.

const SECRET = `sekret-${randomUUID()}`;
const INTERNAL =
  /QueryFailedError|invalid input syntax|relation "|SELECT |INSERT |at [\w.<>]+ \(|\.js:\d+|node_modules|stack/i;

interface Probe {
  name: string;
  body: string;
  /** 'none' for no Authorization header; a role name or a raw header value otherwise. */
  auth?: string;
  contentType?: string;
}

const q = (query: string, variables?: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ query, variables, ...extra });
const b64 = (x: string) => Buffer.from(x).toString('base64url');
const nest = (levels: number) => `${'{"n":'.repeat(levels)}1${'}'.repeat(levels)}`;
const CREATE = 'mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }';
const PUBLISH = 'mutation($i: PublishEventInput!) { publishEvent(input: $i) { id } }';
const secrets = { bearerToken: SECRET, hmacSecret: SECRET };

/** GraphQL documents and variables that must be refused (or answered with an error) on both doors. */
const DOCUMENTS: [string, string, unknown?][] = [
  ['a syntax error', '{ viewer { id '],
  ['an empty document', ' '],
  ['an unknown field', '{ nope }'],
  ['a fragment cycle', 'query { viewer { ...A } } fragment A on ApiKey { ...B } fragment B on ApiKey { ...A }'],
  ['a self-referencing fragment', 'query { viewer { ...A } } fragment A on ApiKey { id ...A }'],
  ['an unknown fragment', 'query { viewer { ...Nope } }'],
  [
    'a chain of 2,000 fragments',
    `query { viewer { ...F0 } } ${Array.from({ length: 2000 }, (_, i) => `fragment F${i} on ApiKey { id ${i < 1999 ? `...F${i + 1}` : ''} }`).join(' ')}`,
  ],
  [
    'a fan of fragments',
    `query { viewer { ...F0 } } ${Array.from({ length: 40 }, (_, i) => `fragment F${i} on ApiKey { id ${i < 39 ? `...F${i + 1} ...F${i + 1}` : ''} }`).join(' ')}`,
  ],
  ['5,000 nested selections', `{ viewer ${'{ id '.repeat(5000)}${'}'.repeat(5000)} }`],
  ['30,000 tokens', `{ ${'viewer { id } '.repeat(6000)} }`],
  [
    'a depth of 19',
    `{ webhooks { edges { node { ${'deliveries { edges { node { webhook { '.repeat(4)} id ${'} } } } '.repeat(4)} } } } }`,
  ],
  [
    'a cost bomb of aliases',
    `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: webhooks(first: 100) { edges { node { deliveries(first: 100) { edges { node { id } } } } } }`).join(' ')} }`,
  ],
  ['a repeated directive', `{ viewer ${'@skip(if: false) '.repeat(500)} { id } }`],
  ['two operations, none named', 'query A { viewer { id } } query B { viewer { id } }'],
  ['a missing variable', 'query($n: Int!) { webhooks(first: $n) { totalCount } }', {}],
  ['a variable of the wrong type', 'query($n: Int) { webhooks(first: $n) { totalCount } }', { n: 'many' }],
  ['an Int out of range', 'query($n: Int) { webhooks(first: $n) { totalCount } }', { n: 2 ** 40 }],
  ['a page too large', '{ webhooks(first: 100000) { totalCount } }'],
  ['a negative page', '{ webhooks(first: -1) { totalCount } }'],
  [
    'variables nested 100 deep',
    PUBLISH,
    { i: { resource: 'USERS', action: 'CREATE', payload: JSON.parse(nest(100)) } },
  ],
  ['an unknown enum value', 'query($s: WebhookStatus) { webhooks(status: $s) { totalCount } }', { s: 'NOPE' }],
  [
    'a forged cursor: no UUID',
    'query($a: String) { events(after: $a) { edges { cursor } } }',
    { a: b64(`events|2026-11-30T00:00:00.000Z|${'-'.repeat(36)}`) },
  ],
  [
    'a forged cursor: an impossible date',
    'query($a: String) { events(after: $a) { edges { cursor } } }',
    { a: b64(`events|-271821-04-20T00:00:00.000Z|${randomUUID()}`) },
  ],
  [
    "another list's cursor",
    'query($a: String) { deliveries(after: $a) { edges { cursor } } }',
    { a: b64(`webhooks|2026-11-30T00:00:00.000Z|${randomUUID()}`) },
  ],
  ['a cursor of garbage', '{ webhooks(after: "%%%") { totalCount } }'],
  ['a lone surrogate in a name', CREATE, { i: { name: 'a\ud800', destinationUrl: 'https://example.com', ...secrets } }],
  [
    'a lone surrogate in a payload key',
    PUBLISH,
    { i: { resource: 'USERS', action: 'CREATE', payload: { id: '1', ['\udc00']: 1 } } },
  ],
  [
    'a lone surrogate in an idempotency key',
    PUBLISH,
    { i: { resource: 'USERS', action: 'CREATE', payload: { id: '1' }, idempotencyKey: '\ud800' } },
  ],
  ['a NUL in a name', CREATE, { i: { name: 'a\u0000b', destinationUrl: 'https://example.com' } }],
  [
    'a NUL in a payload',
    PUBLISH,
    { i: { resource: 'USERS', action: 'CREATE', payload: { id: '1', bio: 'a\u0000b' } } },
  ],
  [
    'a payload 33 deep',
    PUBLISH,
    { i: { resource: 'USERS', action: 'CREATE', payload: { id: '1', x: JSON.parse(nest(33)) } } },
  ],
  [
    'a payload over the size limit',
    PUBLISH,
    { i: { resource: 'USERS', action: 'CREATE', payload: { id: '1', bio: 'x'.repeat(300_000) } } },
  ],
  ['a payload without an id', PUBLISH, { i: { resource: 'USERS', action: 'CREATE', payload: { name: 'x' } } }],
  ['an action the resource lacks', PUBLISH, { i: { resource: 'USERS', action: 'COMPLETE', payload: { id: '1' } } }],
  [
    'an over-long idempotency key',
    PUBLISH,
    { i: { resource: 'USERS', action: 'CREATE', payload: { id: '1' }, idempotencyKey: 'k'.repeat(300) } },
  ],
  [
    'an impossible occurredAt',
    PUBLISH,
    { i: { resource: 'USERS', action: 'CREATE', payload: { id: '1' }, occurredAt: '2026-13-45T99:00:00Z' } },
  ],
  [
    'secrets beside an unknown field',
    CREATE,
    { i: { name: 'n', destinationUrl: 'https://example.com', bogus: 1, ...secrets } },
  ],
  ['secrets without a destination', CREATE, { i: { name: 'n', ...secrets } }],
  [
    'a secret of the wrong type',
    CREATE,
    { i: { name: 'n', destinationUrl: 'https://example.com', bearerToken: { x: SECRET } } },
  ],
  [
    'a literal secret of the wrong type',
    `mutation { createWebhook(input: {name: "n", destinationUrl: "https://example.com", bearerToken: ["${SECRET}"]}) { id } }`,
  ],
  ['a private destination', CREATE, { i: { name: 'n', destinationUrl: 'http://[::127.0.0.1]/', ...secrets } }],
  ['credentials in the URL', CREATE, { i: { name: 'n', destinationUrl: `https://u:${SECRET}@example.com/` } }],
  ['a non-http scheme', CREATE, { i: { name: 'n', destinationUrl: 'file:///etc/passwd' } }],
  ['deleting a webhook that is not there', 'mutation($id: ID!) { deleteWebhook(id: $id) }', { id: randomUUID() }],
  [
    'deleting with an id that is no id',
    'mutation($id: ID!) { deleteWebhook(id: $id) }',
    { id: `'; DROP TABLE webhooks; --` },
  ],
  [
    'redelivering a delivery that is not there',
    'mutation($id: ID!) { redeliver(deliveryId: $id) { id } }',
    { id: randomUUID() },
  ],
  ['revoking a key that is not there', 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: randomUUID() }],
  [
    'subscriptions twice in one call',
    'mutation($id: ID!) { addWebhookSubscriptions(webhookId: $id, subscriptions: [{resource: USERS, action: CREATE}, {resource: USERS, action: CREATE}]) { id } }',
    { id: randomUUID() },
  ],
  [
    'retrying since the future',
    'mutation($id: ID!) { retryFailedDeliveries(webhookId: $id, since: "2999-01-01T00:00:00Z") }',
    { id: randomUUID() },
  ],
];

/** Requests broken below GraphQL, HTTP only. */
const RAW: Probe[] = [
  { name: 'an empty body', body: '' },
  { name: 'JSON null', body: 'null' },
  { name: 'a JSON string', body: '"query"' },
  { name: 'a JSON number', body: '42' },
  { name: 'an empty array (a batch)', body: '[]' },
  { name: 'a batch', body: '[{"query":"{ viewer { id } }"},{"query":"{ viewer { id } }"}]' },
  { name: 'a query that is a number', body: '{"query": 5}' },
  { name: 'an empty query', body: '{"query": ""}' },
  { name: 'variables that are a string', body: q('{ viewer { id } }', 'x') },
  { name: 'variables that are an array', body: q('{ viewer { id } }', [1]) },
  { name: 'an operationName that is a number', body: q('{ viewer { id } }', undefined, { operationName: 5 }) },
  { name: 'an unknown operationName', body: q('query A { viewer { id } }', undefined, { operationName: 'B' }) },
  { name: 'a subscription over HTTP', body: q('subscription { webhookStatusChanged { id } }') },
  { name: 'invalid JSON', body: '{"query":' },
  { name: 'a body over the limit', body: q('{ viewer { id } }', { pad: 'x'.repeat(2 * 1024 * 1024) }) },
  { name: 'a text/plain body (CSRF)', body: q('{ viewer { id } }'), contentType: 'text/plain' },
  {
    name: 'a persisted-query hash mismatch',
    body: q('{ viewer { id } }', undefined, {
      extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } },
    }),
  },
  {
    name: 'a persisted-query lookup',
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'b'.repeat(64) } } }),
  },
  {
    name: 'no key',
    body: q(CREATE, { i: { name: 'n', destinationUrl: 'https://example.com', ...secrets } }),
    auth: 'none',
  },
  { name: 'an unknown key', body: q('{ viewer { id } }'), auth: `Bearer hkl_${'x'.repeat(43)}` },
  { name: 'a 10,000-character key', body: q('{ viewer { id } }'), auth: `Bearer ${'k'.repeat(10_000)}` },
  {
    name: 'a Basic header',
    body: q('{ viewer { id } }'),
    auth: `Basic ${Buffer.from(`a:${SECRET}`).toString('base64')}`,
  },
  {
    name: 'a PUBLISHER configuring',
    body: q(CREATE, { i: { name: 'n', destinationUrl: 'https://example.com', ...secrets } }),
    auth: 'PUBLISHER',
  },
  {
    name: 'a VIEWER publishing',
    body: q(PUBLISH, { i: { resource: 'USERS', action: 'CREATE', payload: { id: '1' } } }),
    auth: 'VIEWER',
  },
  {
    name: 'a raw 20,000-level payload',
    body: `{"query":${JSON.stringify(PUBLISH)},"variables":{"i":{"resource":"USERS","action":"CREATE","payload":{"id":"1","x":${nest(20_000)}}}}}`,
  },
];

async function counts(s: TestServer): Promise<unknown> {
  const { rows } = await s.db.pool.query(
    `SELECT (SELECT count(*) FROM webhooks)::int AS w, (SELECT count(*) FROM webhook_subscriptions)::int AS s,
            (SELECT count(*) FROM events)::int AS e, (SELECT count(*) FROM deliveries)::int AS d,
            (SELECT count(*) FROM api_keys)::int AS k`,
  );
  return rows[0];
}

describe('a hostile sweep over HTTP and WebSocket', () => {
  let s: TestServer;
  const seen: string[] = [];

  before(async () => {
    s = await startServer('hostile', {
      env: { HOOKLINE_WORKER: 'false', HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'false' },
      captureLog: true,
    });
  });
  after(async () => {
    await s?.stop();
  });

  function check(label: string, text: string, status?: number): void {
    seen.push(label);
    if (status !== undefined) assert.ok(status < 500, `${label}: HTTP ${status}: ${text.slice(0, 200)}`);
    const json = JSON.parse(text) as {
      errors?: { message?: string; extensions?: { code?: string } }[];
      payload?: unknown;
    };
    const errors = json.errors ?? [];
    assert.ok(errors.length > 0, `${label}: expected an error: ${text.slice(0, 200)}`);
    for (const e of errors) {
      assert.ok(
        CONTRACT_CODES.includes(e.extensions?.code as never),
        `${label}: code ${e.extensions?.code}: ${text.slice(0, 200)}`,
      );
      assert.notEqual(e.extensions?.code, 'INTERNAL_SERVER_ERROR', `${label}: a client mistake answered as internal`);
      assert.equal(typeof e.message, 'string');
    }
    assert.ok(!text.includes(SECRET), `${label}: the answer echoes the secret`);
    assert.doesNotMatch(text, INTERNAL, `${label}: internal text in the answer`);
  }

  it('HTTP: every probe is answered with a contract code, below 500, without secrets or internals', async () => {
    const before = await counts(s);
    const probes: Probe[] = [
      ...RAW,
      ...DOCUMENTS.map(([name, query, variables]) => ({ name, body: q(query, variables) })),
    ];
    for (const p of probes) {
      const headers: Record<string, string> = { 'content-type': p.contentType ?? 'application/json' };
      const auth = p.auth ?? 'SUPPORT';
      if (auth !== 'none')
        headers.authorization = auth in s.keys ? `Bearer ${s.keys[auth as keyof typeof s.keys]}` : auth;
      const res = await fetch(s.url, { method: 'POST', headers, body: p.body });
      check(`HTTP ${p.name}`, await res.text(), res.status);
    }
    for (const [method, path] of [
      ['GET', '/graphql?query=mutation{deleteWebhook(id:"x")}'],
      ['GET', '/graphql'],
      ['PUT', '/graphql'],
      ['GET', '/nowhere'],
      ['DELETE', '/'],
    ]) {
      const res = await fetch(new URL(path!, s.url), {
        method,
        headers: { authorization: `Bearer ${s.keys.SUPPORT}` },
      });
      check(`HTTP ${method} ${path}`, await res.text(), res.status);
    }
    assert.deepEqual(await counts(s), before, 'no row added');
  });

  it('WebSocket: the same documents are refused as error messages on one connection, which stays open', async () => {
    const before = await counts(s);
    const ws = new WebSocket(wsUrl(s.url), 'graphql-transport-ws');
    const messages: { id?: string; type: string; payload?: unknown }[] = [];
    ws.on('message', (m) => messages.push(JSON.parse(String(m))));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${s.keys.SUPPORT}` } }));
    await eventually(() => messages.some((m) => m.type === 'connection_ack'));
    for (const [i, [name, query, variables]] of DOCUMENTS.entries()) {
      ws.send(JSON.stringify({ id: `p${i}`, type: 'subscribe', payload: { query, variables } }));
      const m = await eventually(
        () => messages.find((x) => x.id === `p${i}` && (x.type === 'error' || x.type === 'next')),
        10_000,
        name,
      );
      const errors = m.type === 'error' ? m.payload : (m.payload as { errors?: unknown }).errors;
      check(`WS ${name}`, JSON.stringify({ errors }));
    }
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.terminate();
    assert.deepEqual(await counts(s), before, 'no row added');
  });

  it('WebSocket: connections broken below GraphQL are closed with documented codes', async () => {
    const cases: [string, (ws: WebSocket) => void, number][] = [
      [
        'a subscribe before connection_init',
        (ws) => ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ viewer { id } }' } })),
        4401,
      ],
      ['a message that is not JSON', (ws) => ws.send('{not json'), 4400],
      ['an unknown message type', (ws) => ws.send(JSON.stringify({ type: 'hello' })), 4400],
      [
        'an unknown key',
        (ws) => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer hkl_nope' } })),
        4403,
      ],
      ['no key', (ws) => ws.send(JSON.stringify({ type: 'connection_init' })), 4403],
      [
        'a secret as the key',
        (ws) => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${SECRET}` } })),
        4403,
      ],
      ['an 8 MiB frame', (ws) => ws.send('x'.repeat(8 * 1024 * 1024)), 1009],
      [
        'two connection_init',
        (ws) => {
          const init = JSON.stringify({
            type: 'connection_init',
            payload: { authorization: `Bearer ${s.keys.VIEWER}` },
          });
          ws.send(init);
          ws.send(init);
        },
        4429,
      ],
    ];
    for (const [name, send, code] of cases) {
      const ws = new WebSocket(wsUrl(s.url), 'graphql-transport-ws');
      const closed = new Promise<{ code: number; reason: string }>((r) =>
        ws.once('close', (c, reason) => r({ code: c, reason: String(reason) })),
      );
      ws.on('error', () => undefined);
      await new Promise((r) => ws.once('open', r));
      send(ws);
      const got = await closed;
      seen.push(`WS ${name}`);
      assert.equal(got.code, code, `${name}: ${JSON.stringify(got)}`);
      assert.ok(!got.reason.includes(SECRET));
      assert.doesNotMatch(got.reason, INTERNAL);
    }
    const wrongProtocol = new WebSocket(wsUrl(s.url), 'graphql-ws');
    wrongProtocol.on('error', () => undefined);
    const got = await new Promise<number>((r) => wrongProtocol.once('close', (c) => r(c)));
    seen.push('WS the old subscriptions-transport-ws protocol');
    assert.equal(got, 4406, 'the old protocol');
  });

  it('afterwards: over a hundred probes sent, the server alive, no secret in any log line', async () => {
    assert.ok(seen.length >= 100, `only ${seen.length} probes`);
    const health = await fetch(new URL('/healthz', s.url));
    assert.equal(health.status, 200);
    assert.deepEqual((await s.gql('{ viewer { role } }')).data, { viewer: { role: 'SUPPORT' } });
    assert.ok(!JSON.stringify(s.logs).includes(SECRET), 'a log line carries the secret');
  });
});
