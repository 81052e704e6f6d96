import { after, before, describe, it } from 'node:test';
import {
  startServer,
  type TestServer,
  startReceiver,
  type Receiver,
  createWebhook,
  deliveryFor,
  publish,
  uniquePath,
  waitForAttempts,
} from '../kit/index.js';
import assert from 'node:assert/strict';

// A destination controls the response body the service stores. Whatever it
// sends (here a NUL byte, which PostgreSQL text cannot hold), the attempt must
// be recorded and the worker must go on serving every other webhook.

describe('delivery: hostile response bodies', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('dlv_response_body', {
      env: {
        HOOKLINE_RETRY_SCHEDULE: '1h',
        HOOKLINE_DELIVERY_TIMEOUT: '2s',
        HOOKLINE_SHUTDOWN_TIMEOUT: '1s',
      },
    });
    r = await startReceiver();
  });
  after(async () => {
    // Cleanup only: should an attempt record be stuck in the recorder (the failure
    // these tests look for), it retries forever and keeps this process alive.
    const recorder = (s.hookline.worker as unknown as { recorder?: { queue?: unknown[] } } | null)?.recorder;
    if (recorder?.queue?.length) recorder.queue.length = 0;
    await s.stop();
    await r.close();
  });

  it('records an attempt whose response body contains a NUL byte', async () => {
    const path = uniquePath('nul');
    r.on(path, () => ({ status: 500, headers: { 'content-type': 'text/plain' }, body: 'before\u0000after' }));
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['USERS', 'CREATE']] });
    const ev = await publish(s, 'USERS', 'CREATE', { id: 'nul-1' });
    const d = await waitForAttempts(s, deliveryFor(ev, w.id), 1, 5_000);
    const at = d.attempts[0]!;
    assert.equal(at.outcome, 'HTTP_ERROR');
    assert.equal(at.responseStatus, 500);
    assert.ok(!(at.responseBody ?? '').includes('\u0000'));
    assert.equal(d.status, 'PENDING');
  });

  it("keeps recording other webhooks' attempts after such a response", async () => {
    const path = uniquePath('after-nul');
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['COURSES', 'CREATE']] });
    const ev = await publish(s, 'COURSES', 'CREATE', { id: 'c-1' });
    const d = await waitForAttempts(s, deliveryFor(ev, w.id), 1, 5_000);
    assert.equal(d.status, 'SUCCEEDED');
    assert.equal(d.attempts[0]!.outcome, 'SUCCESS');
  });
});
