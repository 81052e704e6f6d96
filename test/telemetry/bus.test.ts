import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { must, startServer, type TestServer } from '../kit/index.js';

// A listener of the service's telemetry (the metrics, or any later one) that
// throws does not turn committed work into an error: the publish is answered
// as the success it is, and the failure is logged once per listener.

const PUBLISH = 'mutation($input: PublishEventInput!) { publishEvent(input: $input) { id } }';
const PUBLISH_MANY = 'mutation($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { id } }';
const FAILED = 'a signal listener failed (logged once per listener); the work it reports on is done';

describe('signal listeners', () => {
  let s: TestServer;

  before(async () => {
    s = await startServer('telemetry', { env: { HOOKLINE_WORKER: 'false' }, captureLog: true });
  });
  after(async () => {
    await s?.stop();
  });

  it('a throwing listener fails no publish, and is logged once per listener', async () => {
    s.hookline.telemetry.on('published', () => {
      throw new Error('a published listener that breaks');
    });
    s.hookline.telemetry.on('publishTime', () => {
      throw new Error('a publishTime listener that breaks');
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const input = { resource: 'USERS', action: 'CREATE', payload: { id: `telemetry-${i}` } };
      ids.push(must(await s.gql(PUBLISH, { input }, 'PUBLISHER'), 'publishEvent').publishEvent.id);
    }
    const inputs = [1, 2].map((i) => ({
      resource: 'USERS',
      action: 'UPDATE',
      payload: { id: `telemetry-batch-${i}` },
    }));
    ids.push(
      ...must(await s.gql(PUBLISH_MANY, { inputs }, 'PUBLISHER'), 'publishEvents').publishEvents.map(
        (e: { id: string }) => e.id,
      ),
    );

    const stored = await s.db.pool.query('SELECT id FROM events WHERE id = ANY($1::uuid[])', [ids]);
    assert.equal(stored.rowCount, 5, 'every publish answered as a success is stored');
    const failures = s.logs.filter((l) => l.msg === FAILED);
    assert.deepEqual(failures.map((l) => l.signal).sort(), ['publishTime', 'published'], JSON.stringify(failures));
  });
});
