import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource, EntityTarget, FindOptionsWhere, ObjectLiteral } from 'typeorm';
import { createLogger } from '../../src/logger.js';
import { ApiKeyService } from '../../src/services/api-keys.js';
import { createDataSource } from '../../src/storage/data-source.js';
import {
  codes,
  collect,
  eventually,
  feedClient,
  must,
  runCli,
  startServer,
  type FeedClient,
  type TestServer,
} from '../kit/index.js';

// API keys that expire and show their use: an expired key is refused with a
// message saying so (HTTP and WebSocket, whose open connections are closed
// like a revoked key's), lastUsedAt is kept to within a minute with at most
// one write per key per minute per process. Time moves on the server's clock.
// A revocation is never undone by a lookup that was in flight when the key
// was forgotten.

const CREATE =
  'mutation($n: String!, $at: DateTimeISO) { createApiKey(name: $n, role: VIEWER, expiresAt: $at) { token apiKey { id expiresAt lastUsedAt } } }';

describe('API key expiry and last use', () => {
  let s: TestServer;
  const clients: FeedClient[] = [];

  before(async () => {
    s = await startServer('api_keys', { env: { HOOKLINE_WORKER: 'false' } });
    s.clock.freeze();
  });
  after(async () => {
    for (const c of clients) await c.dispose().catch(() => undefined);
    await s?.stop();
  });

  it('createApiKey refuses an expiry that is not in the future', async () => {
    const r = await s.gql(CREATE, { n: 'late', at: new Date(s.clock.now() - 1000).toISOString() });
    assert.deepEqual(codes(r), ['BAD_USER_INPUT']);
    assert.equal(r.errors![0]!.extensions!.field, 'expiresAt');
  });

  it('an expired key is refused with a message saying so, on HTTP and WebSocket; its open connection is closed 4403', async () => {
    const at = new Date(s.clock.now() + 3_600_000);
    const { token, apiKey } = must(await s.gql(CREATE, { n: 'soon', at: at.toISOString() }), 'create').createApiKey;
    assert.equal(apiKey.expiresAt, at.toISOString());
    assert.equal((await s.gql('{ viewer { id } }', {}, token)).errors, undefined);
    const open = feedClient(s.url, token);
    clients.push(open);
    const sub = collect(open, 'subscription { webhookStatusChanged { id } }', {}, 'webhookStatusChanged');
    await eventually(() => open.connected, 5_000, 'the connection');

    s.clock.advance(3_600_001);
    const r = await s.gql('{ viewer { id } }', {}, token);
    assert.deepEqual(codes(r), ['UNAUTHENTICATED']);
    assert.match(r.errors![0]!.message, /expired at/);
    await eventually(() => open.closes.length > 0, 5_000, 'the open connection to close');
    assert.deepEqual(open.closes[0], { code: 4403, reason: 'API key expired' });
    await eventually(() => sub.errors.length > 0 || sub.completed, 2_000, 'the subscription to end');

    const late = feedClient(s.url, token);
    clients.push(late);
    await eventually(() => late.closes.length > 0, 5_000, 'a new connection to be refused');
    assert.equal(late.closes[0]!.code, 4403);
  });

  it('lastUsedAt is set on use, and written at most once a minute', async () => {
    const { token, apiKey } = must(await s.gql(CREATE, { n: 'used' }), 'create').createApiKey;
    assert.equal(apiKey.lastUsedAt, null);
    const lastUsed = async () =>
      (
        await s.db.pool.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM api_keys WHERE id = $1', [
          apiKey.id,
        ])
      ).rows[0]!.last_used_at;
    await s.gql('{ viewer { id } }', {}, token);
    const first = await eventually(lastUsed, 5_000, 'lastUsedAt to be written');
    assert.equal(first.getTime(), s.clock.now());
    for (let i = 0; i < 5; i++) await s.gql('{ viewer { id } }', {}, token);
    s.clock.advance(30_000);
    await s.gql('{ viewer { id } }', {}, token);
    await s.db.pool.query('SELECT 1');
    assert.equal((await lastUsed())!.getTime(), first.getTime(), 'not written again within the minute');
    s.clock.advance(31_000);
    await s.gql('{ viewer { id } }', {}, token);
    await eventually(
      async () => (await lastUsed())!.getTime() === s.clock.now(),
      5_000,
      'written again after a minute',
    );
    const listed = must(await s.gql('{ apiKeys { id lastUsedAt } }'), 'apiKeys').apiKeys.find(
      (k: { id: string }) => k.id === apiKey.id,
    );
    assert.equal(listed.lastUsedAt, new Date(s.clock.now()).toISOString());
  });

  it('a lookup that read a key before its revocation and returns after the forget neither answers with it nor caches it', async () => {
    const { token, apiKey } = must(await s.gql(CREATE, { n: 'raced' }), 'create').createApiKey;
    // The first lookup reads the row, then waits at the gate with what it read: a row from before the revocation.
    let read = false;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let lookups = 0;
    const ds = createDataSource(s.db.url, 1);
    await ds.initialize();
    try {
      const gated = Object.assign(Object.create(ds) as DataSource, {
        getRepository: <T extends ObjectLiteral>(entity: EntityTarget<T>) => {
          const repo = ds.getRepository(entity);
          return Object.assign(Object.create(repo) as typeof repo, {
            findOneBy: async (where: FindOptionsWhere<T>) => {
              const row = await repo.findOneBy(where);
              if (++lookups === 1) {
                read = true;
                await gate;
              }
              return row;
            },
          });
        },
      });
      const keys = new ApiKeyService(gated, s.db.pool, s.clock, createLogger('silent'));
      const inFlight = keys.authenticate(token);
      await eventually(() => read, 5_000, 'the lookup to read the key');
      // Revoked, and forgotten as its notice makes every process forget it, while the lookup holds the old row.
      await s.db.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [apiKey.id]);
      keys.forget(apiKey.id);
      release();
      assert.equal(await inFlight, null, 'the lookup in flight answers as of after the forget');
      assert.equal(await keys.authenticate(token), null, 'and left nothing in the cache');
      assert.equal(lookups, 2, 'read again once, after the forget');
    } finally {
      await ds.destroy();
    }
  });

  it('the CLI creates a key that expires (--expires-in) and lists when each expires and was last used', async () => {
    const env = { DATABASE_URL: s.db.url };
    const made = await runCli(
      ['api-keys', 'create', '--name', 'ninety', '--role', 'PUBLISHER', '--expires-in', '90d'],
      env,
    );
    assert.equal(made.code, 0, made.stderr);
    const id = /key ([0-9a-f-]{36})/.exec(made.stderr)![1]!;
    const bad = await runCli(['api-keys', 'create', '--name', 'x', '--role', 'VIEWER', '--expires-in', 'soon'], env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /expires-in/);

    const list = await runCli(['api-keys', 'list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const ninety = rows.find((k) => k.id === id);
    const days = (Date.parse(ninety.expiresAt) - Date.now()) / 86_400_000;
    assert.ok(days > 89.9 && days <= 90, `expires in ${days} days`);
    assert.equal(ninety.state, 'active');
    assert.equal(ninety.lastUsedAt, null);
    // 'soon' expires an hour after the test began on the real clock (the server's was moved on, the CLI's is real).
    assert.ok(rows.some((k) => k.name === 'soon' && k.state === 'active' && k.expiresAt !== null));
    assert.ok(rows.some((k) => k.name === 'used' && k.lastUsedAt !== null));
    const text = await runCli(['api-keys', 'list'], env);
    assert.match(text.stdout, new RegExp(`${id}.*expires ${ninety.expiresAt}.*last used never.*ninety`));
  });
});
