import { after, before, describe, it } from 'node:test';
import { startServer, eventually, type TestServer, startReceiver, type Receiver } from './kit/index.js';
import assert from 'node:assert/strict';

describe('smoke', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('smoke');
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('delivers a published event', async () => {
    const c = await s.gql(
      `mutation($u: String!) { createWebhook(input: {name: "a", destinationUrl: $u, subscriptions: [{resource: USERS, action: CREATE}]}) { id } }`,
      { u: `${r.url}/a` },
    );
    assert.ok(c.data?.createWebhook.id, JSON.stringify(c));
    const p = await s.gql(
      `mutation { publishEvent(input: {resource: USERS, action: CREATE, payload: {id: "1"}}) { id } }`,
      {},
      'PUBLISHER',
    );
    assert.ok(p.data?.publishEvent.id, JSON.stringify(p));
    await eventually(() => r.received.length === 1);
    assert.equal(r.received[0]!.headers['webhook-id'], p.data.publishEvent.id);
  });
});
