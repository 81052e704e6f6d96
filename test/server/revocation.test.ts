import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashToken, newApiToken } from '../../src/domain/tokens.js';
import {
  collect,
  codes,
  cutListenConnections,
  eventually,
  feedClient,
  freshDatabase,
  insertKeys,
  runCli,
  spawnServer,
  type FeedClient,
  type Keys,
  type ServerProcess,
  type TestDatabase,
} from '../kit/index.js';

// Revocation is immediate everywhere: two server processes on one database,
// a key revoked through one of them (or the CLI) stops working on both before
// the revoking call returns (there) or within one NOTIFY round trip
// (elsewhere), and its open WebSocket connections are closed with 4403. A
// revocation whose notice was lost (LISTEN down) takes effect on every process
// as soon as its LISTEN connection is back.

const VIEWER_QUERY = '{ viewer { id } }';

describe('revocation across processes', () => {
  let db: TestDatabase;
  let keys: Keys;
  let a: ServerProcess;
  let b: ServerProcess;
  const clients: FeedClient[] = [];

  before(async () => {
    db = await freshDatabase('revocation');
    keys = await insertKeys(db);
    [a, b] = await Promise.all([
      spawnServer(db, { keys, env: { HOOKLINE_WORKER: 'false' } }),
      spawnServer(db, { keys, env: { HOOKLINE_WORKER: 'false' } }),
    ]);
    await Promise.all([a.ready(), b.ready()]);
  });
  after(async () => {
    for (const c of clients) await c.dispose().catch(() => undefined);
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.close();
  });

  async function victim(name: string): Promise<{ id: string; token: string }> {
    const token = newApiToken();
    const { rows } = await db.pool.query<{ id: string }>(
      `INSERT INTO api_keys (name, role, token_hash) VALUES ($1, 'VIEWER', $2) RETURNING id`,
      [name, hashToken(token)],
    );
    return { id: rows[0]!.id, token };
  }

  /** The key works on both, over HTTP and on a live subscription on each (so both caches hold it). */
  async function inUse(token: string) {
    for (const s of [a, b]) assert.equal((await s.gql(VIEWER_QUERY, {}, token)).errors, undefined);
    const feeds = [a, b].map((s) => {
      const c = feedClient(s.url, token);
      clients.push(c);
      return { c, sub: collect(c, 'subscription { webhookStatusChanged { id } }', {}, 'webhookStatusChanged') };
    });
    await eventually(() => feeds.every((f) => f.c.connected), 10_000, 'both connections acknowledged');
    return feeds;
  }

  async function refusedEverywhere(
    token: string,
    feeds: Awaited<ReturnType<typeof inUse>>,
    within = { ms: 1_000, what: 'within one NOTIFY round trip' },
  ): Promise<void> {
    for (const s of [a, b]) {
      await eventually(
        async () => codes(await s.gql(VIEWER_QUERY, {}, token))[0] === 'UNAUTHENTICATED',
        within.ms,
        `the revoked key to be refused ${within.what}`,
      );
    }
    for (const f of feeds) {
      await eventually(() => f.c.closes.length > 0, 2_000, 'the connection to close');
      assert.equal(f.c.closes[0]!.code, 4403);
      assert.match(f.c.closes[0]!.reason, /revoked/);
      await eventually(() => f.sub.errors.length > 0 || f.sub.completed, 2_000, 'the subscription to end');
    }
  }

  it('revoked through one server: refused at once there, within a NOTIFY on the other, sockets closed 4403', async () => {
    const key = await victim('revoked by the API');
    const feeds = await inUse(key.token);
    const r = await a.gql('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: key.id });
    assert.ok(r.data?.revokeApiKey?.revokedAt, JSON.stringify(r));
    assert.deepEqual(
      codes(await a.gql(VIEWER_QUERY, {}, key.token)),
      ['UNAUTHENTICATED'],
      'at once where it was revoked',
    );
    await refusedEverywhere(key.token, feeds);
  });

  it('revoked by the CLI: refused on both servers, sockets closed 4403', async () => {
    const key = await victim('revoked by the CLI');
    const feeds = await inUse(key.token);
    const run = await runCli(['api-keys', 'revoke', key.id], { DATABASE_URL: db.url });
    assert.equal(run.code, 0, run.stderr);
    await refusedEverywhere(key.token, feeds);
  });

  it('revoked while both LISTEN connections were down (the notice lost): refused on both, sockets closed 4403', async () => {
    const key = await victim('revoked while notices were lost');
    const feeds = await inUse(key.token);
    await db.pool.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [key.id]);
    assert.equal(await cutListenConnections(db), 2, 'one LISTEN connection per server');
    await refusedEverywhere(key.token, feeds, { ms: 10_000, what: 'once LISTEN is back' });
  });

  it('other keys keep working', async () => {
    for (const s of [a, b]) assert.equal((await s.gql(VIEWER_QUERY, {}, 'VIEWER')).errors, undefined);
  });
});
