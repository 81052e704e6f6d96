import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/logger.js';
import { PgListener } from '../../src/storage/listener.js';
import { cutListenConnections, eventually, freshDatabase, type TestDatabase } from '../kit/index.js';

// The LISTEN connection after a fault: it comes back, and every reconnect
// handler runs (they reload what lost notices would have said, API key
// revocations among them), whatever another handler does.

describe('the LISTEN connection', () => {
  let db: TestDatabase;
  let listener: PgListener;

  before(async () => {
    db = await freshDatabase('listener');
    listener = new PgListener(db.url, createLogger('silent'));
  });
  after(async () => {
    await listener?.stop();
    await db?.close();
  });

  it('reconnects after its connection is cut, runs every reconnect handler though one throws, and hears again', async () => {
    const heard: string[] = [];
    listener.on('hookline_test', (payload) => heard.push(payload));
    await listener.start();
    let reloaded = 0;
    listener.onReconnect(() => {
      throw new Error('a reconnect handler that fails');
    });
    listener.onReconnect(() => reloaded++);

    assert.equal(await cutListenConnections(db), 1);
    await eventually(() => reloaded > 0 && listener.connected, 10_000, 'the reconnect handlers to run');
    await db.pool.query(`SELECT pg_notify('hookline_test', 'after the reconnect')`);
    await eventually(() => heard.includes('after the reconnect'), 10_000, 'the notice after the reconnect');
    assert.equal(reloaded, 1, 'one reconnect, kept');
    assert.equal(listener.connected, true);
  });
});
