import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { eventually, startServer, wsUrl, type TestServer } from '../kit/index.js';

// Errors never echo a secret: known secret strings go through every failing
// path (variable coercion, literal validation, the services' own rules, the
// limits, both transports) and are looked for in every response and log line.

const BEARER = `bearer-${randomUUID()}`;
const HMAC = `hmac-${randomUUID()}`;
const SECRETS = [BEARER, HMAC];

const CREATE = 'mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }';
const UPDATE = 'mutation($id: ID!, $i: UpdateWebhookInput!) { updateWebhook(id: $id, input: $i) { id } }';

/** Failing requests that carry the secrets, each with the reason it fails. */
function probes(webhookId: string): [string, string, Record<string, unknown>][] {
  const secrets = { bearerToken: BEARER, hmacSecret: HMAC };
  return [
    [
      'an unknown input field',
      CREATE,
      { i: { name: 'n', destinationUrl: 'https://example.com', bogus: 1, ...secrets } },
    ],
    ['a missing destinationUrl', CREATE, { i: { name: 'n', ...secrets } }],
    ['a missing name', CREATE, { i: { destinationUrl: 'https://example.com', ...secrets } }],
    ['a wrong type elsewhere', CREATE, { i: { name: 7, destinationUrl: 'https://example.com', ...secrets } }],
    [
      'an unknown resource',
      CREATE,
      {
        i: {
          name: 'n',
          destinationUrl: 'https://example.com',
          subscriptions: [{ resource: 'NOPE', action: 'CREATE' }],
          ...secrets,
        },
      },
    ],
    [
      'a bearer token of the wrong type',
      CREATE,
      { i: { name: 'n', destinationUrl: 'https://example.com', bearerToken: [BEARER], hmacSecret: HMAC } },
    ],
    [
      'an hmac secret of the wrong type',
      CREATE,
      { i: { name: 'n', destinationUrl: 'https://example.com', bearerToken: BEARER, hmacSecret: { s: HMAC } } },
    ],
    ['a private destination', CREATE, { i: { name: 'n', destinationUrl: 'http://10.0.0.1/', ...secrets } }],
    ['an invalid URL', CREATE, { i: { name: 'n', destinationUrl: `https://${BEARER}@example.com/`, ...secrets } }],
    [
      'a bearer token with a space',
      CREATE,
      { i: { name: 'n', destinationUrl: 'https://example.com', bearerToken: `${BEARER} x`, hmacSecret: HMAC } },
    ],
    [
      'a malformed whsec_ secret',
      CREATE,
      { i: { name: 'n', destinationUrl: 'https://example.com', bearerToken: BEARER, hmacSecret: `whsec_${HMAC}!` } },
    ],
    [
      'a lone surrogate beside the secrets',
      CREATE,
      { i: { name: 'a\ud800b', destinationUrl: 'https://example.com', ...secrets } },
    ],
    [
      'generate and give a secret',
      CREATE,
      { i: { name: 'n', destinationUrl: 'https://example.com', generateHmacSecret: true, ...secrets } },
    ],
    ['an update of a missing webhook', UPDATE, { id: randomUUID(), i: secrets }],
    ['an update with an id that is no id', UPDATE, { id: `x${BEARER}`, i: secrets }],
    ['set and clear at once', UPDATE, { id: webhookId, i: { ...secrets, clearBearerToken: true } }],
    ['an unknown update field', UPDATE, { id: webhookId, i: { ...secrets, bogus: true } }],
    [
      'a literal secret of the wrong type',
      `mutation { createWebhook(input: {name: "n", destinationUrl: "https://example.com", bearerToken: {x: "${BEARER}"}, hmacSecret: ${HMAC.replace(/-/g, '_')}}) { id } }`,
      {},
    ],
    [
      'a literal secret beside an unknown field',
      `mutation { createWebhook(input: {name: "n", destinationUrl: "https://example.com", bearerToken: "${BEARER}", hmacSecret: "${HMAC}", nope: 1}) { id } }`,
      {},
    ],
    [
      'a secret in a syntax error',
      `mutation { createWebhook(input: {name: "n", bearerToken: "${BEARER}", hmacSecret: "${HMAC}" ) { id } }`,
      {},
    ],
  ];
}

const leaks = (text: string) => SECRETS.filter((x) => text.includes(x) || text.includes(x.replace(/-/g, '_')));

describe('errors never echo a secret', () => {
  let s: TestServer;
  let webhookId: string;

  before(async () => {
    s = await startServer('echo', {
      env: { HOOKLINE_WORKER: 'false', HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'false' },
      captureLog: true,
    });
    webhookId = (
      await s.gql('mutation { createWebhook(input: {name: "x", destinationUrl: "https://example.com/x"}) { id } }')
    ).data.createWebhook.id;
  });
  after(async () => {
    await s?.stop();
  });

  it('over HTTP: every failing path answers a contract code, and neither the answer nor the log carries a secret', async () => {
    for (const [label, query, variables] of probes(webhookId)) {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.keys.SUPPORT}` },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      assert.ok(res.status < 500, `${label}: HTTP ${res.status}`);
      const body = JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] };
      assert.ok(body.errors?.length, `${label}: expected an error: ${text}`);
      assert.ok(['BAD_USER_INPUT', 'NOT_FOUND'].includes(body.errors[0]!.extensions?.code ?? ''), `${label}: ${text}`);
      assert.deepEqual(leaks(text), [], `${label}: the answer echoes a secret: ${text}`);
    }
    assert.deepEqual(leaks(JSON.stringify(s.logs)), [], 'a log line carries a secret');
    const { rows } = await s.db.pool.query('SELECT count(*)::int AS n FROM webhooks');
    assert.equal(rows[0].n, 1, 'nothing was created');
  });

  it('over WebSocket: the same', async () => {
    const ws = new WebSocket(wsUrl(s.url), 'graphql-transport-ws');
    const messages: string[] = [];
    ws.on('message', (m) => messages.push(String(m)));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${s.keys.SUPPORT}` } }));
    await eventually(() => messages.some((m) => m.includes('connection_ack')));
    const list = probes(webhookId);
    list.forEach(([, query, variables], i) =>
      ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query, variables } })),
    );
    const answers = await eventually(
      () => {
        const got = list.map((_, i) =>
          messages.find((m) => JSON.parse(m).id === String(i) && /"(next|error)"/.test(m)),
        );
        return got.every(Boolean) && (got as string[]);
      },
      15_000,
      'an answer to every probe',
    );
    answers.forEach((a, i) => {
      assert.match(a, /BAD_USER_INPUT|NOT_FOUND/, `${list[i]![0]}: ${a}`);
      assert.deepEqual(leaks(a), [], `${list[i]![0]}: ${a}`);
    });
    assert.equal(ws.readyState, WebSocket.OPEN, 'the socket stays open');
    ws.terminate();
    assert.deepEqual(leaks(JSON.stringify(s.logs)), [], 'a log line carries a secret');
  });

  it('echoed input is cut short', async () => {
    const long = 'y'.repeat(5000);
    const r = await s.gql('query($s: WebhookStatus) { webhooks(status: $s) { totalCount } }', { s: long });
    assert.equal(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
    assert.ok(r.errors![0]!.message.length < 400, r.errors![0]!.message);
  });
});
