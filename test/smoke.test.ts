import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, eventually, type TestServer } from './helpers/server.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';

describe('smoke', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startTestServer('smoke');
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
