import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  startServer,
  eventually,
  type TestServer,
  startReceiver,
  type Received,
  type Receiver,
  PKG,
  createWebhook,
  deliveryFor,
  getDelivery,
  makeDue,
  must,
  publish,
  receivedAt,
  uniquePath,
  waitForAttempts,
} from '../kit/index.js';

// delivery-contract.md, "The request" and "The signature": what a destination
// receives, checked with the reference Standard Webhooks library.

function sigHeaders(m: Received): Record<string, string> {
  return {
    'webhook-id': String(m.headers['webhook-id']),
    'webhook-timestamp': String(m.headers['webhook-timestamp']),
    'webhook-signature': String(m.headers['webhook-signature']),
  };
}

describe('delivery: headers, envelope and signature', () => {
  let s: TestServer;
  let r: Receiver;
  before(async () => {
    s = await startServer('dlv_signing', { env: { HOOKLINE_RETRY_SCHEDULE: '1h', HOOKLINE_DELIVERY_TIMEOUT: '2s' } });
    r = await startReceiver();
    s.clock.freeze();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('sends the contract headers and envelope, signed with a generated whsec_ secret', async () => {
    const path = uniquePath('whsec');
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['USERS', 'CREATE']], generateHmacSecret: true });
    assert.ok(w.hasHmacSecret);
    assert.match(w.generatedHmacSecret ?? '', /^whsec_[A-Za-z0-9+/]+={0,2}$/);

    const payload = {
      id: '42',
      first_name: 'Zoë',
      last_name: 'Ågren ✓',
      roles: ['admin', 'learner'],
      manager_id: 7,
      unsubscribed: false,
      bio: null,
    };
    const occurredAt = '2026-11-29T04:00:00.000Z';
    const ev = await publish(s, 'USERS', 'CREATE', payload, { occurredAt });
    assert.equal(ev.type, 'user.created');
    const m = await eventually(() => receivedAt(r, path)[0], 10_000, 'the delivery');

    assert.equal(receivedAt(r, path).length, 1);
    assert.match(String(m.headers['content-type']), /^application\/json(;|$)/);
    assert.equal(m.headers['user-agent'], `${PKG.name}/${PKG.version}`);
    assert.equal(m.headers['webhook-id'], ev.id);
    const ts = Number(m.headers['webhook-timestamp']);
    assert.ok(Number.isInteger(ts), `webhook-timestamp is Unix seconds: ${m.headers['webhook-timestamp']}`);
    assert.equal(
      ts,
      Math.floor(s.clock.now() / 1000),
      'webhook-timestamp is when the attempt was sent (the frozen server clock)',
    );
    assert.equal(m.headers.authorization, undefined, 'no bearer token configured: no authorization header');

    const body = JSON.parse(m.body);
    assert.deepEqual(Object.keys(body).sort(), ['data', 'id', 'timestamp', 'type']);
    assert.equal(body.id, ev.id);
    assert.equal(body.type, 'user.created');
    assert.equal(body.timestamp, occurredAt);
    assert.deepEqual(body.data, payload);

    const sig = String(m.headers['webhook-signature']);
    assert.match(sig, /^v1,[A-Za-z0-9+/]+={0,2}( v1,[A-Za-z0-9+/]+={0,2})*$/);
    const wh = new Webhook(w.generatedHmacSecret!);
    assert.deepEqual(wh.verify(m.body, sigHeaders(m)), body);

    // The signature covers the body, the id and the timestamp.
    const tampered = m.body.replace('Zoë', 'Zoe');
    assert.notEqual(tampered, m.body);
    assert.throws(() => wh.verify(tampered, sigHeaders(m)), WebhookVerificationError);
    assert.throws(
      () => wh.verify(m.body, { ...sigHeaders(m), 'webhook-id': '00000000-0000-4000-8000-000000000000' }),
      WebhookVerificationError,
    );
    assert.throws(
      () => wh.verify(m.body, { ...sigHeaders(m), 'webhook-timestamp': String(ts - 1) }),
      WebhookVerificationError,
    );
    // … and a different secret does not produce it.
    assert.throws(
      () => new Webhook(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).verify(m.body, sigHeaders(m)),
      WebhookVerificationError,
    );
  });

  it('uses the event time of publishing as the envelope timestamp when occurredAt is not given', async () => {
    const path = uniquePath('nooccurred');
    await createWebhook(s, { url: `${r.url}${path}`, subs: [['ENROLLMENTS', 'UPDATE']] });
    const ev = await publish(s, 'ENROLLMENTS', 'UPDATE', { id: 9, state: 'active', progress: 0.25 });
    const m = await eventually(() => receivedAt(r, path)[0], 10_000, 'the delivery');
    const body = JSON.parse(m.body);
    assert.equal(body.type, 'enrollment.updated');
    assert.equal(body.timestamp, new Date(ev.occurredAt).toISOString());
    assert.deepEqual(body.data, { id: 9, state: 'active', progress: 0.25 });
    assert.equal(m.headers['webhook-signature'], undefined, 'no HMAC secret: no webhook-signature header');
  });

  it('signs with the UTF-8 bytes of a plain (non-whsec) secret with non-ASCII characters', async () => {
    const secret = 'sécret-✓-key';
    const path = uniquePath('utf8');
    const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['COURSES', 'UPDATE']], hmacSecret: secret });
    assert.ok(w.hasHmacSecret);
    assert.equal(w.generatedHmacSecret, null);
    const ev = await publish(s, 'COURSES', 'UPDATE', { id: 'c-1', title: 'Ünïcode ✓ course' });
    const m = await eventually(() => receivedAt(r, path)[0], 10_000, 'the delivery');
    const wh = new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' });
    const verified = wh.verify(m.body, sigHeaders(m)) as { id: string; data: { title: string } };
    assert.equal(verified.id, ev.id);
    assert.equal(verified.data.title, 'Ünïcode ✓ course');
    assert.throws(() => wh.verify(m.body.replace('course', 'Course'), sigHeaders(m)), WebhookVerificationError);
  });

  it('sends authorization: Bearer <token> only when a bearer token is set', async () => {
    const withToken = uniquePath('bearer');
    const without = uniquePath('nobearer');
    const a = await createWebhook(s, {
      url: `${r.url}${withToken}`,
      subs: [['PROGRAMS', 'UPDATE']],
      bearerToken: 'tok_abc.123-XYZ',
    });
    const b = await createWebhook(s, { url: `${r.url}${without}`, subs: [['PROGRAMS', 'UPDATE']] });
    assert.ok(a.hasBearerToken);
    assert.ok(!b.hasBearerToken);
    const ev = await publish(s, 'PROGRAMS', 'UPDATE', { id: 'p-1' });
    const [ma, mb] = await eventually(
      () => {
        const x = receivedAt(r, withToken)[0];
        const y = receivedAt(r, without)[0];
        return x && y ? [x, y] : null;
      },
      10_000,
      'both deliveries',
    );
    assert.equal(ma.headers.authorization, 'Bearer tok_abc.123-XYZ');
    assert.equal(mb.headers.authorization, undefined);
    assert.equal(ma.headers['webhook-signature'], undefined);
    assert.equal(mb.headers['webhook-signature'], undefined);
    assert.equal(ma.headers['webhook-id'], ev.id);
    assert.equal(mb.headers['webhook-id'], ev.id);
  });

  it('sendTestEvent sends a signed envelope with "test": true to that webhook alone', async () => {
    const target = uniquePath('test-target');
    const bystander = uniquePath('test-bystander');
    // The target subscribes to something else: a test event goes to it whatever it subscribes to.
    const a = await createWebhook(s, {
      url: `${r.url}${target}`,
      subs: [['LIVE_TRAININGS', 'DELETE']],
      generateHmacSecret: true,
    });
    await createWebhook(s, { url: `${r.url}${bystander}`, subs: [['USERS', 'CREATE']] });

    const res = await s.gql<{ sendTestEvent: { id: string; event: { id: string; type: string } } }>(
      `mutation($id: ID!) { sendTestEvent(webhookId: $id) { id event { id type } } }`,
      { id: a.id },
    );
    const sent = must(res, 'sendTestEvent').sendTestEvent;
    const m = await eventually(() => receivedAt(r, target)[0], 10_000, 'the test delivery');
    const body = JSON.parse(m.body);
    assert.equal(body.test, true);
    assert.equal(body.id, sent.event.id);
    assert.equal(body.type, sent.event.type);
    assert.equal(body.type, 'user.created');
    assert.equal(typeof body.data?.id, 'string', 'the sample resource object carries an id');
    assert.equal(m.headers['webhook-id'], sent.event.id);
    new Webhook(a.generatedHmacSecret!).verify(m.body, sigHeaders(m));

    // Only the target has a delivery of the test event …
    const { rows } = await s.db.pool.query('SELECT webhook_id FROM deliveries WHERE event_id = $1', [sent.event.id]);
    assert.deepEqual(
      rows.map((x) => x.webhook_id),
      [a.id],
    );
    // … and a real user.created that the bystander does get arrives without the test flag.
    const real = await publish(s, 'USERS', 'CREATE', { id: 'real-1' });
    const got = await eventually(
      () => receivedAt(r, bystander).find((x) => x.headers['webhook-id'] === real.id),
      10_000,
      'the real event',
    );
    assert.equal(JSON.parse(got.body).test, undefined);
    assert.ok(
      !receivedAt(r, bystander).some((x) => x.headers['webhook-id'] === sent.event.id),
      'the bystander never got the test event',
    );
    assert.equal(receivedAt(r, target).length, 1);
  });

  it('keeps the webhook-id (and a valid signature) on a retry', async () => {
    const path = uniquePath('retry');
    let calls = 0;
    r.on(path, () => (++calls === 1 ? { status: 500, body: 'try again' } : { status: 200 }));
    const w = await createWebhook(s, {
      url: `${r.url}${path}`,
      subs: [['LIVE_TRAININGS', 'UPDATE']],
      generateHmacSecret: true,
    });
    const ev = await publish(s, 'LIVE_TRAININGS', 'UPDATE', { id: 'lt-1', title: 'Retried' });
    const id = deliveryFor(ev, w.id);
    const first = await waitForAttempts(s, id, 1);
    assert.equal(first.status, 'PENDING');
    assert.equal(first.attempts[0]!.outcome, 'HTTP_ERROR');
    await makeDue(s, id);
    const second = await waitForAttempts(s, id, 2);
    assert.equal(second.status, 'SUCCEEDED');
    assert.deepEqual(
      second.attempts.map((a) => [a.attemptNumber, a.outcome]),
      [
        [1, 'HTTP_ERROR'],
        [2, 'SUCCESS'],
      ],
    );

    const got = receivedAt(r, path);
    assert.equal(got.length, 2);
    assert.equal(got[0]!.headers['webhook-id'], ev.id);
    assert.equal(got[1]!.headers['webhook-id'], ev.id);
    assert.equal(got[1]!.body, got[0]!.body, 'a retry sends the same envelope');
    const wh = new Webhook(w.generatedHmacSecret!);
    for (const m of got) wh.verify(m.body, sigHeaders(m));
    assert.equal((await getDelivery(s, id)).event.id, ev.id);
  });
});
