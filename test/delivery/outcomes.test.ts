import { after, before, describe, it } from 'node:test';
import {
  startServer,
  eventually,
  codes,
  type TestServer,
  startReceiver,
  type Receiver,
  type Responder,
  createWebhook,
  deliveryFor,
  getWebhook,
  makeDue,
  ms,
  publish,
  receivedAt,
  uniquePath,
  waitForAttempts,
  type DeliveryView,
  type Pair,
} from '../kit/index.js';
import assert from 'node:assert/strict';

// delivery-contract.md, "Outcome of an attempt": every row, end to end through
// a real receiver, read back through the GraphQL API.
//
// Schedule '1h,2h': a failed first attempt waits 1 h (so nothing is retried
// while the file runs), and the longest scheduled delay, which caps
// Retry-After, is 2 h, so an honoured Retry-After of 2 h is distinguishable
// from the scheduled retry. The server's clock is frozen and its jitter at
// the nominal value, so every retry time is exact.

const H = 3_600_000;

/** Every (resource, action) pair: each test takes its own, so events never reach another test's webhooks. */
const PAIRS: Pair[] = [
  ['USERS', 'CREATE'],
  ['USERS', 'UPDATE'],
  ['USERS', 'DELETE'],
  ['ENROLLMENTS', 'CREATE'],
  ['ENROLLMENTS', 'UPDATE'],
  ['ENROLLMENTS', 'DELETE'],
  ['ENROLLMENTS', 'COMPLETE'],
  ['COURSES', 'CREATE'],
  ['COURSES', 'UPDATE'],
  ['COURSES', 'DELETE'],
  ['LIVE_TRAININGS', 'CREATE'],
  ['LIVE_TRAININGS', 'UPDATE'],
  ['LIVE_TRAININGS', 'DELETE'],
  ['LIVE_TRAINING_REGISTRATIONS', 'CREATE'],
  ['LIVE_TRAINING_REGISTRATIONS', 'UPDATE'],
  ['LIVE_TRAINING_REGISTRATIONS', 'DELETE'],
  ['PROGRAMS', 'CREATE'],
  ['PROGRAMS', 'UPDATE'],
  ['PROGRAMS', 'DELETE'],
];

interface FirstAttempt {
  webhookId: string;
  deliveryId: string;
  path: string;
  d: DeliveryView;
}

describe('delivery: outcome of an attempt', () => {
  let s: TestServer;
  let r: Receiver;
  let pairIndex = 0;

  before(async () => {
    // 1 s rather than 300 ms: server, receiver and test share one process on a
    // possibly busy machine, and a slow 2xx must not turn into a TIMEOUT.
    s = await startServer('dlv_outcomes', {
      env: { HOOKLINE_RETRY_SCHEDULE: '1h,2h', HOOKLINE_DELIVERY_TIMEOUT: '1s' },
    });
    r = await startReceiver();
    s.clock.freeze();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  /** A fresh webhook on its own path (or `url`), one event, its first attempt settled. */
  async function firstAttempt(responder: Responder | null, url?: string): Promise<FirstAttempt> {
    const pair = PAIRS[pairIndex++]!;
    const path = uniquePath(`${pair[0]}-${pair[1]}`.toLowerCase());
    if (responder) r.on(path, responder);
    const w = await createWebhook(s, { url: url ?? `${r.url}${path}`, subs: [pair] });
    const ev = await publish(s, pair[0], pair[1], { id: `obj-${pairIndex}` });
    const deliveryId = deliveryFor(ev, w.id);
    const d = await waitForAttempts(s, deliveryId, 1);
    assert.equal(d.attempts.length, 1);
    assert.equal(d.attempts[0]!.attemptNumber, 1);
    assert.ok(Number.isInteger(d.attempts[0]!.durationMs) && d.attempts[0]!.durationMs >= 0);
    assert.ok(d.lastAttemptAt, 'lastAttemptAt is set after an attempt');
    return { webhookId: w.id, deliveryId, path, d };
  }

  function assertScheduledRetry(a: FirstAttempt, nominalMs: number): void {
    assert.equal(a.d.status, 'PENDING');
    assert.equal(a.d.attemptCount, 1);
    assert.equal(ms(a.d.attempts[0]!.startedAt), s.clock.now(), 'the attempt started on the server clock');
    assert.equal(ms(a.d.nextAttemptAt), s.clock.now() + nominalMs, 'nextAttemptAt');
  }

  it('2xx → SUCCESS, delivery SUCCEEDED', async () => {
    const a = await firstAttempt(() => ({ status: 200, body: 'thanks' }));
    const at = a.d.attempts[0]!;
    assert.equal(at.outcome, 'SUCCESS');
    assert.equal(at.responseStatus, 200);
    assert.equal(at.responseBody, 'thanks');
    assert.equal(at.errorMessage, null);
    assert.equal(a.d.status, 'SUCCEEDED');
    assert.equal(a.d.nextAttemptAt, null);
    assert.equal(receivedAt(r, a.path).length, 1);
  });

  it('204 with an empty body is a SUCCESS too', async () => {
    const a = await firstAttempt(() => ({ status: 204 }));
    assert.equal(a.d.attempts[0]!.outcome, 'SUCCESS');
    assert.equal(a.d.attempts[0]!.responseStatus, 204);
    assert.equal(a.d.status, 'SUCCEEDED');
  });

  it('3xx → HTTP_ERROR and a retry; the redirect is not followed', async () => {
    const target = uniquePath('redirect-target');
    const a = await firstAttempt(() => ({ status: 301, headers: { location: `${r.url}${target}` }, body: 'moved' }));
    const at = a.d.attempts[0]!;
    assert.equal(at.outcome, 'HTTP_ERROR');
    assert.equal(at.responseStatus, 301);
    assertScheduledRetry(a, H);
    assert.equal(receivedAt(r, a.path).length, 1, 'exactly one request');
    assert.equal(receivedAt(r, target).length, 0, 'the Location was not requested');
  });

  for (const status of [400, 500]) {
    it(`${status} → HTTP_ERROR, retried after the first scheduled delay (1 h ±20 %)`, async () => {
      const a = await firstAttempt(() => ({ status, body: `error ${status}` }));
      const at = a.d.attempts[0]!;
      assert.equal(at.outcome, 'HTTP_ERROR');
      assert.equal(at.responseStatus, status);
      assert.equal(at.responseBody, `error ${status}`);
      assertScheduledRetry(a, H);
      assert.equal(receivedAt(r, a.path).length, 1);
    });
  }

  it('410 Gone → HTTP_ERROR, webhook DISABLED at once with the reason, the delivery kept PENDING', async () => {
    const a = await firstAttempt(() => ({ status: 410, body: 'gone' }));
    assert.equal(a.d.attempts[0]!.outcome, 'HTTP_ERROR');
    assert.equal(a.d.attempts[0]!.responseStatus, 410);
    const w = await eventually(
      async () => {
        const x = await getWebhook(s, a.webhookId);
        return x?.status === 'DISABLED' ? x : null;
      },
      10_000,
      'the webhook to be disabled',
    );
    assert.match(w.statusReason ?? '', /410/);
    assert.equal(a.d.status, 'PENDING', 'the delivery is kept, not failed or cancelled');
    const { rows } = await s.db.pool.query('SELECT status FROM deliveries WHERE id = $1', [a.deliveryId]);
    assert.equal(rows[0].status, 'PENDING');
  });

  it('429 with Retry-After (seconds) → retried no sooner than asked, beyond the scheduled delay', async () => {
    const a = await firstAttempt(() => ({ status: 429, headers: { 'retry-after': '7200' } }));
    assert.equal(a.d.attempts[0]!.outcome, 'HTTP_ERROR');
    assert.equal(a.d.attempts[0]!.responseStatus, 429);
    assert.equal(a.d.status, 'PENDING');
    // Honoured: 2 h, where the schedule alone would give at most 1.2 h; 2 h is also the cap.
    assert.equal(ms(a.d.nextAttemptAt), s.clock.now() + 2 * H, 'nextAttemptAt');
  });

  it('503 with Retry-After (HTTP-date) → retried no sooner than that date', async () => {
    // A whole second, as HTTP-dates are: 90 min from the server's clock.
    const when = new Date(Math.floor(s.clock.now() / 1000) * 1000 + 90 * 60_000);
    const a = await firstAttempt(() => ({ status: 503, headers: { 'retry-after': when.toUTCString() } }));
    assert.equal(a.d.attempts[0]!.outcome, 'HTTP_ERROR');
    assert.equal(a.d.attempts[0]!.responseStatus, 503);
    assert.equal(a.d.status, 'PENDING');
    assert.equal(ms(a.d.nextAttemptAt), when.getTime(), 'nextAttemptAt');
  });

  it('Retry-After is capped at the longest scheduled delay (2 h)', async () => {
    const a = await firstAttempt(() => ({ status: 503, headers: { 'retry-after': '999999' } }));
    assert.equal(a.d.status, 'PENDING');
    assert.equal(ms(a.d.nextAttemptAt), s.clock.now() + 2 * H, 'nextAttemptAt');
  });

  it('no response within the timeout → TIMEOUT and a retry', async () => {
    const a = await firstAttempt(() => 'hang');
    const at = a.d.attempts[0]!;
    assert.equal(at.outcome, 'TIMEOUT');
    assert.equal(at.responseStatus, null);
    assert.ok(at.errorMessage, 'the timeout is described');
    assertScheduledRetry(a, H);
  });

  it('connection reset → NETWORK_ERROR and a retry', async () => {
    const a = await firstAttempt(() => 'reset');
    const at = a.d.attempts[0]!;
    assert.equal(at.outcome, 'NETWORK_ERROR');
    assert.equal(at.responseStatus, null);
    assert.ok(at.errorMessage);
    assertScheduledRetry(a, H);
    assert.equal(receivedAt(r, a.path).length, 1);
  });

  it('connection refused (closed port) → NETWORK_ERROR and a retry', async () => {
    const gone = await startReceiver();
    const url = `${gone.url}/closed`;
    await gone.close();
    const a = await firstAttempt(null, url);
    const at = a.d.attempts[0]!;
    assert.equal(at.outcome, 'NETWORK_ERROR');
    assert.equal(at.responseStatus, null);
    assert.match(at.errorMessage ?? '', /ECONNREFUSED|refused/i);
    assertScheduledRetry(a, H);
  });

  it('stores at most the first 4096 bytes of a long response body', async () => {
    const long = 'abcdefghij'.repeat(1000);
    const a = await firstAttempt(() => ({ status: 500, body: long }));
    const body = a.d.attempts[0]!.responseBody ?? '';
    assert.ok(body.length > 0 && body.length <= 4096, `stored ${body.length} characters`);
    assert.equal(body, long.slice(0, body.length), 'a prefix of the response');
    assert.equal(body.length, 4096);
  });

  it('truncates a multi-byte response body within 4096 bytes, at a character boundary', async () => {
    const long = '✓'.repeat(3000); // 9000 bytes; 4096 is not a multiple of 3
    const a = await firstAttempt(() => ({
      status: 500,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: long,
    }));
    const body = a.d.attempts[0]!.responseBody ?? '';
    assert.ok(body.length > 0);
    assert.ok(Buffer.byteLength(body, 'utf8') <= 4096, `stored ${Buffer.byteLength(body, 'utf8')} bytes`);
    assert.ok(
      long.startsWith(body),
      `stored body is not a prefix of the response (ends with ${JSON.stringify(body.slice(-3))})`,
    );
  });

  it('after the last scheduled retry fails, the delivery is FAILED', async () => {
    const a = await firstAttempt(() => ({ status: 500 }));
    assertScheduledRetry(a, H);
    await makeDue(s, a.deliveryId);
    const second = await waitForAttempts(s, a.deliveryId, 2);
    assert.equal(second.status, 'PENDING');
    // Attempt 2 is followed by the second scheduled delay, 2 h.
    assert.equal(ms(second.nextAttemptAt), s.clock.now() + 2 * H, 'second nextAttemptAt');
    await makeDue(s, a.deliveryId);
    const third = await waitForAttempts(s, a.deliveryId, 3);
    assert.equal(third.status, 'FAILED');
    assert.equal(third.nextAttemptAt, null);
    assert.equal(third.attemptCount, 3);
    assert.deepEqual(
      third.attempts.map((x) => [x.attemptNumber, x.outcome, x.responseStatus]),
      [
        [1, 'HTTP_ERROR', 500],
        [2, 'HTTP_ERROR', 500],
        [3, 'HTTP_ERROR', 500],
      ],
    );
    assert.equal(receivedAt(r, a.path).length, 3);
  });
});

describe('delivery: non-public destinations while they are not allowed', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('dlv_blocked', {
      env: {
        HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'false',
        HOOKLINE_RETRY_SCHEDULE: '1h',
        HOOKLINE_DELIVERY_TIMEOUT: '300ms',
      },
    });
    r = await startReceiver();
    s.clock.freeze();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('the API refuses such destinations (so these tests insert webhooks in SQL)', async () => {
    const res = await s.gql(`mutation($u: String!) { createWebhook(input: {name: "x", destinationUrl: $u}) { id } }`, {
      u: `${r.url}/api`,
    });
    assert.deepEqual(codes(res), ['BAD_USER_INPUT'], JSON.stringify(res));
  });

  const port = () => new URL(r.url).port;
  const cases: { name: string; url: () => string; path: string; pair: Pair }[] = [
    {
      name: 'a hostname resolving to 127.0.0.1 (localhost)',
      url: () => `http://localhost:${port()}/x`,
      path: '/x',
      pair: ['USERS', 'CREATE'],
    },
    {
      name: 'an IP literal (127.0.0.1)',
      url: () => `http://127.0.0.1:${port()}/y`,
      path: '/y',
      pair: ['USERS', 'UPDATE'],
    },
  ];
  for (const c of cases) {
    it(`${c.name} → BLOCKED with the reason, nothing sent, retry scheduled`, async () => {
      const { rows } = await s.db.pool.query<{ id: string }>(
        `INSERT INTO webhooks (account_id, name, destination_url) VALUES ('00000000-0000-4000-8000-000000000001', 'blocked', $1) RETURNING id`,
        [c.url()],
      );
      const webhookId = rows[0]!.id;
      await s.db.pool.query(
        `INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action) VALUES ('00000000-0000-4000-8000-000000000001', $1, $2, $3)`,
        [webhookId, ...c.pair],
      );
      const ev = await publish(s, c.pair[0], c.pair[1], { id: 'b-1' });
      const id = deliveryFor(ev, webhookId);
      const d = await waitForAttempts(s, id, 1);
      const at = d.attempts[0]!;
      assert.equal(at.outcome, 'BLOCKED');
      assert.equal(at.responseStatus, null);
      assert.match(at.errorMessage ?? '', /non-public/);
      assert.match(at.errorMessage ?? '', /127\.0\.0\.1|::1/);
      assert.equal(d.status, 'PENDING', 'blocked is retried: the address may change');
      assert.equal(ms(d.nextAttemptAt), s.clock.now() + H, 'nextAttemptAt');
      assert.equal(receivedAt(r, c.path).length, 0, 'the receiver got nothing');
      assert.equal(r.received.length, 0);
    });
  }
});

describe('delivery: HOOKLINE_REQUIRE_HTTPS=true', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('dlv_https', { env: { HOOKLINE_REQUIRE_HTTPS: 'true', HOOKLINE_RETRY_SCHEDULE: '1h' } });
    r = await startReceiver();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('the API refuses http:// destinations, naming the setting', async () => {
    const res = await s.gql(`mutation($u: String!) { createWebhook(input: {name: "x", destinationUrl: $u}) { id } }`, {
      u: `${r.url}/plain`,
    });
    assert.deepEqual(codes(res), ['BAD_USER_INPUT'], JSON.stringify(res));
    assert.match(res.errors![0]!.message, /HOOKLINE_REQUIRE_HTTPS/);
  });

  it('a webhook saved with http:// before the setting is BLOCKED at send time: nothing is sent', async () => {
    const { rows } = await s.db.pool.query<{ id: string }>(
      `INSERT INTO webhooks (account_id, name, destination_url) VALUES ('00000000-0000-4000-8000-000000000001', 'plain', $1) RETURNING id`,
      [`${r.url}/plain`],
    );
    await s.db.pool.query(
      `INSERT INTO webhook_subscriptions (account_id, webhook_id, resource, action) VALUES ('00000000-0000-4000-8000-000000000001', $1, 'USERS', 'CREATE')`,
      [rows[0]!.id],
    );
    const ev = await publish(s, 'USERS', 'CREATE', { id: 'h-1' });
    const d = await waitForAttempts(s, deliveryFor(ev, rows[0]!.id), 1);
    assert.equal(d.attempts[0]!.outcome, 'BLOCKED');
    assert.match(d.attempts[0]!.errorMessage ?? '', /https/);
    assert.equal(r.received.length, 0);
  });
});
