import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startServer, type TestServer } from '../kit/index.js';

// The HTTP surface around GraphQL: health, readiness, malformed requests,
// query depth, and configuration checking.

describe('HTTP server', () => {
  let s: TestServer;
  let origin: string;

  before(async () => {
    s = await startServer('http', { env: { HOOKLINE_WORKER: 'false' } });
    origin = new URL(s.url).origin;
  });
  after(async () => {
    await s.stop();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.keys.SUPPORT}`, ...headers },
      body,
    });

  it('GET /healthz → 200 {status: "ok"}', async () => {
    const res = await fetch(`${origin}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('GET /readyz → 200 with migrations applied', async () => {
    const res = await fetch(`${origin}/readyz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.status, 'ready');
    assert.equal(body.migrations, 'applied');
    assert.equal(body.database, 'reachable');
  });

  it('an invalid JSON body → 400 BAD_USER_INPUT', async () => {
    const res = await post('{"query": "{ viewer { id } }"');
    assert.equal(res.status, 400);
    const body = (await res.json()) as { errors: { message: string; extensions: { code: string } }[] };
    assert.equal(body.errors[0]!.extensions.code, 'BAD_USER_INPUT');
    assert.doesNotMatch(JSON.stringify(body), /SyntaxError|at .*\.js/, 'no parser internals');
  });

  it('a body over the limit → 413 BAD_USER_INPUT', async () => {
    // maxBodyBytes = 2 × HOOKLINE_MAX_PAYLOAD_BYTES (256 KiB) + 64 KiB.
    const big = JSON.stringify({ query: '{ viewer { id } }', variables: { pad: 'x'.repeat(700 * 1024) } });
    const res = await post(big);
    assert.equal(res.status, 413);
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    assert.equal(body.errors[0]!.extensions.code, 'BAD_USER_INPUT');
  });

  it('a GraphQL syntax error or unknown field → BAD_USER_INPUT', async () => {
    for (const query of ['{ viewer { id ', '{ viewer { nope } }', '{ nope }']) {
      const r = await s.gql(query);
      assert.equal(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `${query}: ${JSON.stringify(r)}`);
      assert.equal(r.data, undefined);
    }
  });

  it('a query deeper than the limit → BAD_USER_INPUT, and nothing runs', async () => {
    // webhooks{edges{node{deliveries{edges{node{webhook{deliveries{edges{node{webhook{ ... }}}}}}}}}}}
    let inner = 'id';
    for (let i = 0; i < 3; i++) inner = `deliveries { edges { node { webhook { ${inner} } } } }`;
    const deep = `{ webhooks { edges { node { ${inner} } } } }`;
    const depth = deep.split('{').length - 1;
    assert.ok(depth >= 15, `query depth ${depth}`);
    const r = await s.gql(deep);
    assert.equal(r.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(r));
    assert.match(r.errors![0]!.message, /depth/i);
    assert.equal(r.data, undefined);
  });

  it('a query within the limit runs (control)', async () => {
    const ok = await s.gql('{ webhooks { edges { node { deliveries { edges { node { webhook { id } } } } } } } }');
    assert.equal(ok.errors, undefined, JSON.stringify(ok));
    assert.ok(ok.data?.webhooks);
  });
});

describe('configuration', () => {
  it('names every bad variable in one ConfigError', () => {
    assert.throws(
      () =>
        loadConfig({ PORT: 'abc', HOOKLINE_DELIVERY_TIMEOUT: 'soon', HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'maybe' }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
        for (const name of ['PORT', 'HOOKLINE_DELIVERY_TIMEOUT', 'HOOKLINE_ALLOW_PRIVATE_DESTINATIONS']) {
          assert.ok(e.message.includes(name), `message should name ${name}: ${e.message}`);
        }
        assert.ok(!e.message.includes('HOOKLINE_WORKER_CONCURRENCY'), 'only the bad ones are named');
        return true;
      },
    );
  });

  for (const [name, value] of [
    ['PORT', '70000'],
    ['PORT', '4.5'],
    ['HOOKLINE_DB_POOL_SIZE', '1'],
    ['HOOKLINE_RETRY_SCHEDULE', '1m,nope'],
    ['HOOKLINE_LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://x'],
    ['HOOKLINE_WORKER', 'yes please'],
  ] as const) {
    it(`refuses ${name}=${value}`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (e: unknown) => e instanceof ConfigError && e.message.includes(name),
      );
    });
  }

  it('uses the documented defaults when nothing is set, and parses good values', () => {
    const d = loadConfig({});
    assert.equal(d.port, 4000);
    assert.equal(d.allowPrivateDestinations, false);
    assert.equal(d.deliveryTimeoutMs, 15_000);
    assert.equal(d.runWorker, true);
    assert.equal(d.databaseUrl, undefined);
    const c = loadConfig({
      PORT: '8080',
      HOOKLINE_DELIVERY_TIMEOUT: '500ms',
      HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: '1',
      HOOKLINE_WORKER: 'false',
    });
    assert.equal(c.port, 8080);
    assert.equal(c.deliveryTimeoutMs, 500);
    assert.equal(c.allowPrivateDestinations, true);
    assert.equal(c.runWorker, false);
  });
});
