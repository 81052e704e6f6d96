import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { codes, eventually, startServer, wsUrl, type GqlError, type TestServer } from '../kit/index.js';

// One admission path for HTTP and WebSocket: the same limits, codes and
// masking on both doors, a socket that survives a bad operation, the
// WebSocket's own limits with their close codes, and one log line per
// operation on both transports (never the variables).

/** A graphql-transport-ws client by hand: every message and the close are observable. */
class RawWs {
  readonly ws: WebSocket;
  readonly messages: { type: string; id?: string; payload?: any }[] = [];
  closed: { code: number; reason: string } | null = null;

  constructor(url: string) {
    this.ws = new WebSocket(wsUrl(url), 'graphql-transport-ws');
    this.ws.on('message', (m) => this.messages.push(JSON.parse(String(m))));
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: String(reason) }));
    this.ws.on('error', () => undefined);
  }

  async open(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return;
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  async init(token: string): Promise<void> {
    await this.open();
    this.ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
    await eventually(() => this.messages.some((m) => m.type === 'connection_ack'), 10_000, 'connection_ack');
  }

  /** Sends one operation and waits for its first result: a `next` payload or an `error` message. */
  async run(query: string, variables: Record<string, unknown> = {}): Promise<{ data?: any; errors?: GqlError[] }> {
    const id = randomUUID();
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } }));
    const m = await eventually(
      () => this.messages.find((x) => x.id === id && (x.type === 'next' || x.type === 'error')),
      10_000,
      `an answer to ${query.slice(0, 40)}`,
    );
    return m.type === 'next' ? m.payload : { errors: m.payload };
  }
}

/** A valid query with 3 + 4 × reps nested field levels. */
const deepQuery = (reps: number) =>
  `{ webhooks { edges { node { ${'deliveries { edges { node { webhook { '.repeat(reps)} id ${'} } } } '.repeat(reps)} } } } }`;

/** Refusals both doors must answer alike (code, no data), and the server must survive. */
const REFUSALS: [string, string, Record<string, unknown>?][] = [
  ['a query nested 19 levels (the limit is 12)', deepQuery(4)],
  [
    'a cost over the limit',
    `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: webhooks(first: 100) { edges { node { deliveries(first: 100) { edges { node { id } } } } } }`).join(' ')} }`,
  ],
  ['a fragment cycle', 'query { viewer { ...A } } fragment A on ApiKey { ...B } fragment B on ApiKey { ...A }'],
  ['a self-referencing fragment', 'query { viewer { ...A } } fragment A on ApiKey { id ...A }'],
  ['an unknown fragment spread', 'query { viewer { ...Nowhere } }'],
  [
    'a chain of 2,000 fragments',
    `query { viewer { ...F0 } } ${Array.from({ length: 2000 }, (_, i) => `fragment F${i} on ApiKey { id ${i < 1999 ? `...F${i + 1}` : ''} }`).join(' ')}`,
  ],
  ['a syntax error', '{ viewer { id '],
  ['a document nested 5,000 levels', `{ viewer ${'{ id '.repeat(5000)}${'}'.repeat(5000)} }`],
  ['an unknown field', '{ nope }'],
  ['a variable of the wrong type', 'query($n: Int) { webhooks(first: $n) { totalCount } }', { n: 'many' }],
];

describe('one admission path for HTTP and WebSocket', () => {
  let s: TestServer;
  let raw: RawWs;

  before(async () => {
    s = await startServer('admission', {
      env: {
        HOOKLINE_WORKER: 'false',
        HOOKLINE_WS_OPERATIONS_PER_CONNECTION: '3',
        HOOKLINE_WS_CONNECTIONS_PER_KEY: '4',
        // Long enough that an 8 MiB frame reaches the server's frame parser first on a loaded machine
        // (CI saw the 300 ms it was before close the socket with 4408 while the frame was on its way).
        HOOKLINE_WS_INIT_TIMEOUT: '2s',
      },
      captureLog: true,
    });
    raw = new RawWs(s.url);
    await raw.init(s.keys.SUPPORT);
  });
  after(async () => {
    raw?.ws.terminate();
    await s?.stop();
  });

  for (const [label, query, variables] of REFUSALS) {
    it(`${label}: BAD_USER_INPUT over HTTP (status 400) and over WebSocket, which stays open`, async () => {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.keys.SUPPORT}` },
        body: JSON.stringify({ query, variables }),
      });
      const http = (await res.json()) as { data?: unknown; errors?: GqlError[] };
      assert.equal(res.status, 400, JSON.stringify(http).slice(0, 300));
      assert.ok(
        codes(http).length >= 1 && codes(http).every((c) => c === 'BAD_USER_INPUT'),
        JSON.stringify(http).slice(0, 300),
      );
      assert.equal(http.data, undefined);

      const ws = await raw.run(query, variables);
      assert.ok(ws.errors?.length, JSON.stringify(ws).slice(0, 300));
      assert.ok(
        ws.errors!.every((e) => e.extensions?.code === 'BAD_USER_INPUT'),
        JSON.stringify(ws).slice(0, 300),
      );
      assert.equal(ws.errors![0]!.message, http.errors![0]!.message, 'the same message on both doors');
      assert.equal(raw.closed, null, 'the socket stays open');
      assert.deepEqual(await raw.run('{ viewer { role } }'), { data: { viewer: { role: 'SUPPORT' } } });
    });
  }

  it('an internal error is masked alike on both doors, with a request id the log has', async () => {
    const deliveries = s.hookline.services.deliveries;
    const original = deliveries.delivery.bind(deliveries);
    deliveries.delivery = async () => {
      throw new Error(
        'invalid input syntax for type uuid: "----" at Parser.parseErrorMessage (pg-protocol/dist/parser.js:1)',
      );
    };
    try {
      const q = 'query($id: ID!) { delivery(id: $id) { id } }';
      const http = await s.gql(q, { id: randomUUID() });
      const ws = await raw.run(q, { id: randomUUID() });
      for (const [door, r] of [
        ['http', http],
        ['ws', ws],
      ] as const) {
        const e = r.errors?.[0];
        assert.equal(e?.message, 'Internal server error', `${door}: ${JSON.stringify(r)}`);
        assert.deepEqual(Object.keys(e!.extensions!).sort(), ['code', 'requestId'], door);
        assert.equal(e!.extensions!.code, 'INTERNAL_SERVER_ERROR');
        const logged = s.logs.find((l) => l.msg === 'unexpected error' && l.requestId === e!.extensions!.requestId);
        assert.ok(logged, `${door}: the cause is logged under the request id`);
        assert.match(JSON.stringify(logged), /invalid input syntax for type uuid/);
        assert.doesNotMatch(JSON.stringify(r), /uuid|Parser|pg-protocol/);
      }
    } finally {
      deliveries.delivery = original;
    }
  });

  it('a context that cannot be made (the key lookup failing) is masked too, under the id the response names', async () => {
    const keys = s.hookline.services.apiKeys;
    const original = keys.authenticate.bind(keys);
    keys.authenticate = async () => {
      throw new Error('connection to server at "10.0.0.7", port 5432 failed: FATAL: password authentication failed');
    };
    try {
      const res = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.keys.SUPPORT}` },
        body: JSON.stringify({ query: '{ viewer { role } }' }),
      });
      const body = (await res.json()) as { errors?: GqlError[] };
      const requestId = res.headers.get('x-request-id');
      assert.equal(res.status, 500);
      assert.deepEqual(body, {
        errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId } }],
      });
      const logged = s.logs.find((l) => l.msg === 'unexpected error' && l.requestId === requestId);
      assert.match(JSON.stringify(logged), /password authentication failed/);
    } finally {
      keys.authenticate = original;
    }
  });

  it('a frame larger than the body limit is refused before it is read, even before connection_init (close 1009)', async () => {
    const c = new RawWs(s.url);
    await c.open();
    c.ws.send('x'.repeat(8 * 1024 * 1024));
    await eventually(() => c.closed, 10_000, 'the close');
    assert.equal(c.closed!.code, 1009);
  });

  it('a connection that never sends connection_init is closed with 4408 after HOOKLINE_WS_INIT_TIMEOUT', async () => {
    const c = new RawWs(s.url);
    await c.open();
    await eventually(() => c.closed, 10_000, 'the close');
    assert.deepEqual(c.closed, { code: 4408, reason: 'Connection initialisation timeout' });
  });

  it('at most HOOKLINE_WS_OPERATIONS_PER_CONNECTION operations at once: the next is refused, the socket stays', async () => {
    const c = new RawWs(s.url);
    await c.init(s.keys.VIEWER);
    for (let i = 0; i < 3; i++) {
      c.ws.send(
        JSON.stringify({
          id: `live-${i}`,
          type: 'subscribe',
          payload: { query: 'subscription { webhookStatusChanged { id } }' },
        }),
      );
    }
    const extra = await c.run('{ viewer { role } }');
    assert.deepEqual(codes(extra), ['BAD_USER_INPUT']);
    assert.match(extra.errors![0]!.message, /at most 3 operations/);
    c.ws.send(JSON.stringify({ id: 'live-0', type: 'complete' }));
    await eventually(
      async () => !(await c.run('{ viewer { role } }')).errors,
      5_000,
      'room for one more after a complete',
    );
    assert.equal(c.closed, null);
    c.ws.terminate();
  });

  it('at most HOOKLINE_WS_CONNECTIONS_PER_KEY connections per key: the next is closed with 4429', async () => {
    const open: RawWs[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const c = new RawWs(s.url);
        await c.init(s.keys.PUBLISHER);
        open.push(c);
      }
      const fifth = new RawWs(s.url);
      open.push(fifth);
      await fifth.open();
      fifth.ws.send(
        JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${s.keys.PUBLISHER}` } }),
      );
      await eventually(() => fifth.closed, 10_000, 'the close');
      assert.equal(fifth.closed!.code, 4429);
      assert.match(fifth.closed!.reason, /too many connections/);
      // Another key is not affected.
      const other = new RawWs(s.url);
      open.push(other);
      await other.init(s.keys.VIEWER);
    } finally {
      for (const c of open) c.ws.terminate();
    }
  });

  it('writes one operation line per operation on both doors, with transport, name, outcome and key; never the variables', async () => {
    const marker = `marker-${randomUUID()}`;
    const q = 'query Probe($s: WebhookStatus, $after: String) { webhooks(status: $s, after: $after) { totalCount } }';
    await s.gql(q, { s: 'ACTIVE', after: marker });
    await raw.run(q, { s: 'ACTIVE', after: marker });
    const keyId = (await s.gql('{ viewer { id } }')).data.viewer.id;
    const lines = await eventually(() => {
      const l = s.logs.filter((x) => x.msg === 'operation' && x.operation === 'Probe');
      return l.length === 2 && l;
    });
    for (const transport of ['http', 'ws']) {
      const line = lines.find((l) => l.transport === transport);
      assert.ok(line, transport);
      assert.equal(line.type, 'query');
      assert.equal(line.apiKey, keyId);
      assert.equal(line.outcome, 'BAD_USER_INPUT', 'the forged cursor was refused');
      assert.equal(typeof line.ms, 'number');
      assert.equal(typeof line.requestId, 'string');
    }
    assert.ok(!JSON.stringify(s.logs).includes(marker), 'no variable value in any log line');
  });

  it('a request refused before GraphQL still gets a request line with its real path', async () => {
    const res = await fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":',
    });
    assert.equal(res.status, 400);
    const requestId = res.headers.get('x-request-id');
    const line = await eventually(() => s.logs.find((l) => l.msg === 'request' && l.requestId === requestId));
    assert.equal(line.path, '/graphql');
    assert.equal(line.status, 400);
  });
});
