import 'reflect-metadata';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { Lifecycle } from '../../src/server/lifecycle.js';
import { startHookline } from '../../src/server/runtime.js';
import { eventually, freshDatabase, startServer, testEnv } from '../kit/index.js';

const silent = createLogger('silent');

describe('Lifecycle', () => {
  it('stops what started, last first, and only what started', async () => {
    const life = new Lifecycle(silent);
    const order: string[] = [];
    for (const name of ['a', 'b', 'c'])
      await life.start(
        name,
        () => name,
        (n) => void order.push(n),
      );
    await assert.rejects(
      life.start(
        'd',
        () => Promise.reject(new Error('d failed')),
        () => void order.push('d'),
      ),
      /d failed/,
    );
    await life.stop();
    assert.deepEqual(order, ['c', 'b', 'a']);
    await life.stop();
    assert.deepEqual(order, ['c', 'b', 'a'], 'a second stop stops nothing again');
  });

  it('a component that fails to stop does not keep the ones before it running', async () => {
    const life = new Lifecycle(silent);
    const order: string[] = [];
    await life.start(
      'pool',
      () => 1,
      () => void order.push('pool'),
    );
    await life.start(
      'worker',
      () => 2,
      () => Promise.reject(new Error('stuck')),
    );
    await life.stop();
    assert.deepEqual(order, ['pool']);
  });
});

describe('startHookline with a component that cannot start', () => {
  const blockers: net.Server[] = [];
  after(() => Promise.all(blockers.map((b) => new Promise((r) => b.close(r)))));

  it('stops every component it had started: no connection to the database is left behind', async () => {
    const db = await freshDatabase('lifecycle');
    const blocker = net.createServer();
    blockers.push(blocker);
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    // Everything up to the HTTP listener starts (database pools, LISTEN, worker, maintenance); listen fails.
    const config = loadConfig(testEnv(db, { PORT: String(port) }));
    await assert.rejects(startHookline(config, silent), /EADDRINUSE/);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      // A backend may take a moment to exit after its client closed: wait for that, not for a fixed time.
      await eventually(async () => {
        const { rows } = await c.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
        );
        assert.equal(rows[0]!.n, 0, 'connections of the failed start are still open');
        return true;
      });
    } finally {
      await c.end();
    }
    await db.close();
  });

  it('a normal start and stop still works (the components in order)', async () => {
    const s = await startServer('lifecycle_ok');
    const r = await s.gql('{ __typename }');
    assert.deepEqual(r.data, { __typename: 'Query' });
    await s.stop();
  });
});
