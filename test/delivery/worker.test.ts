import { after, before, describe, it } from 'node:test';
import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { insertEvents } from '../../src/storage/sql/events.js';
import {
  startServer,
  eventually,
  type TestServer,
  startReceiver,
  type Receiver,
  createWebhook,
  receivedAt,
  uniquePath,
} from '../kit/index.js';

// The worker's fairness between webhooks: one destination's backlog must not
// keep the others waiting, whatever the order of the due index.

describe('worker lanes', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('worker', {
      env: { HOOKLINE_DELIVERY_TIMEOUT: '5s', HOOKLINE_PER_WEBHOOK_CONCURRENCY: '2' },
    });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('a never-answering destination with a large, older backlog does not hold back a healthy webhook', async () => {
    const hang = uniquePath('hang');
    const ok = uniquePath('ok');
    r.on(hang, () => 'hang');
    await createWebhook(s, { url: `${r.url}${hang}`, subs: [['USERS', 'UPDATE']] });
    await createWebhook(s, { url: `${r.url}${ok}`, subs: [['USERS', 'CREATE']] });
    // 600 due deliveries for the hanging destination, all older than the healthy one's:
    // more than a claim's scan of the due index reaches at once.
    await insertEvents(
      s.db.pool,
      Array.from({ length: 600 }, (_, i) => ({
        id: randomUUID(),
        accountId: DEFAULT_ACCOUNT_ID,
        resource: 'USERS',
        action: 'UPDATE',
        type: 'user.updated',
        payload: JSON.stringify({ id: String(i) }),
        occurredAt: null,
        idempotencyKey: null,
      })),
    );
    await eventually(() => receivedAt(r, hang).length >= 2, 10_000, 'the hanging destination to be tried');
    const opened = receivedAt(r, hang)[0]!.atNs;
    const healthyEvent = (id: string) => ({
      id: randomUUID(),
      accountId: DEFAULT_ACCOUNT_ID,
      resource: 'USERS',
      action: 'CREATE',
      type: 'user.created',
      payload: JSON.stringify({ id }),
      occurredAt: null,
      idempotencyKey: null,
    });
    const arrival = async (eventId: string, what: string) =>
      (await eventually(() => receivedAt(r, ok).find((x) => x.headers['webhook-id'] === eventId), 4_000, what))!;
    const [healthy] = await insertEvents(s.db.pool, [healthyEvent('h')]);
    await arrival(healthy!.id, 'the healthy delivery');
    // Had the cap not held, a third request would have been claimed before or with the healthy
    // delivery; one more published after that one arrived gives it time to arrive too.
    const [later] = await insertEvents(s.db.pool, [healthyEvent('h2')]);
    const checked = (await arrival(later!.id, 'the later healthy delivery')).atNs;
    // The first two time out after 5 s (HOOKLINE_DELIVERY_TIMEOUT) and free their slots: only requests before that count.
    const timeout = 5_000_000_000n;
    assert.ok(checked - opened < timeout, 'checked while the first two were still open');
    const open = receivedAt(r, hang).filter((x) => x.atNs - opened < timeout);
    assert.equal(open.length, 2, 'exactly the cap of requests open to the hanging destination');
  });
});
