import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createWebhook,
  deliveryFor,
  eventually,
  must,
  publish,
  receivedAt,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  type PublishedEvent,
  type Receiver,
  type TestServer,
} from '../kit/index.js';
import { DROPPED_HEADERS_KEY, MAX_RESPONSE_HEADERS_BYTES } from '../../src/domain/forensics.js';

// Custom headers on the wire and the forensics of each attempt, against a
// real receiver on loopback: what it sees, what the attempt records of the
// connection and the answer, and that a header change is a change of the
// webhook (a delivery claimed before it does not go out with the old headers).

interface Forensics {
  attemptNumber: number;
  outcome: string;
  responseStatus: number | null;
  remoteAddress: string | null;
  responseHeaders: Record<string, string | number> | null;
  timings: {
    dnsMs: number | null;
    connectMs: number | null;
    tlsMs: number | null;
    firstByteMs: number | null;
    totalMs: number;
    reusedConnection: boolean;
  } | null;
}

const EVENTS = 20;

describe('delivery: custom headers and attempt forensics', () => {
  let s: TestServer;
  let r: Receiver;

  before(async () => {
    s = await startServer('dlv_headers', {
      env: { HOOKLINE_PER_WEBHOOK_CONCURRENCY: '2', HOOKLINE_RETRY_SCHEDULE: '1h' },
    });
    r = await startReceiver();
  });
  after(async () => {
    await s?.stop();
    await r?.close();
  });

  const withHeaders = async (url: string, headers: { name: string; value: string; secret?: boolean }[]) =>
    must(
      await s.gql(`mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { id } }`, {
        input: {
          name: 'headers',
          destinationUrl: url,
          headers,
          subscriptions: [{ resource: 'COURSES', action: 'CREATE' }],
        },
      }),
    ).createWebhook.id as string;

  const forensics = async (deliveryId: string): Promise<Forensics[]> => {
    const d = must(
      await s.gql(
        `query($id: ID!) { delivery(id: $id) { attempts { attemptNumber outcome responseStatus remoteAddress responseHeaders
           timings { dnsMs connectMs tlsMs firstByteMs totalMs reusedConnection } } } }`,
        { id: deliveryId },
        'VIEWER',
      ),
    ).delivery;
    return (d.attempts as Forensics[]).sort((a, b) => a.attemptNumber - b.attemptNumber);
  };

  const deliverOne = async (webhookId: string, n: number, id: string): Promise<Forensics> => {
    const e = await publish(s, 'COURSES', 'CREATE', { id });
    const delivery = deliveryFor(e, webhookId);
    await waitForAttempts(s, delivery, 1);
    const [a] = await forensics(delivery);
    assert.ok(a, `attempt ${n}`);
    return a;
  };

  it('sends the custom headers, secret values opened, beside the contract headers it cannot replace', async () => {
    const path = uniquePath('/hdr');
    const id = await withHeaders(`${r.url}${path}`, [
      { name: 'X-Api-Key', value: 'sk_test_123', secret: true },
      { name: 'X-Tenant', value: 'acme corp' },
      { name: 'X-Trace-Me', value: 'yes' },
    ]);
    const e = await publish(s, 'COURSES', 'CREATE', { id: 'c-hdr' });
    await waitForAttempts(s, deliveryFor(e, id), 1);
    const [got] = receivedAt(r, path);
    assert.ok(got);
    assert.equal(got.headers['x-api-key'], 'sk_test_123');
    assert.equal(got.headers['x-tenant'], 'acme corp');
    assert.equal(got.headers['x-trace-me'], 'yes');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['webhook-id'], e.id);
    assert.match(String(got.headers['user-agent']), /Hookline/i);
    // The contract's headers cannot be overridden: the API refuses the names.
    const refused = await s.gql(
      `mutation($id: ID!) { updateWebhook(id: $id, input: {headers: [{name: "Content-Type", value: "text/plain"}]}) { id } }`,
      { id },
    );
    assert.equal(refused.errors?.[0]?.extensions?.field, 'input.headers[0].name');
  });

  it('records the address connected to, the timings, and a reused keep-alive connection as such', async () => {
    // A receiver of its own: the sender holds no connection to it yet.
    const fresh = await startReceiver();
    try {
      const port = new URL(fresh.url).port;
      const id = (await createWebhook(s, { url: `${fresh.url}/f`, subs: [['COURSES', 'CREATE']] })).id;
      const first = await deliverOne(id, 1, 'c-f1');
      const second = await deliverOne(id, 2, 'c-f2');
      for (const a of [first, second]) {
        assert.equal(a.remoteAddress, `127.0.0.1:${port}`);
        assert.ok(a.timings, 'timings recorded');
        assert.equal(a.timings.tlsMs, null, 'plain HTTP has no TLS');
        assert.ok(a.timings.firstByteMs !== null && a.timings.firstByteMs >= 0);
        assert.ok(a.timings.totalMs >= a.timings.firstByteMs);
      }
      assert.equal(first.timings!.reusedConnection, false);
      assert.ok(first.timings!.connectMs !== null && first.timings!.dnsMs !== null, 'a new connection has its phases');
      assert.equal(second.timings!.reusedConnection, true, 'the second went on the kept-alive connection');
      assert.deepEqual(
        [second.timings!.dnsMs, second.timings!.connectMs, second.timings!.tlsMs],
        [null, null, null],
        'a reused connection made no lookup, connection or handshake',
      );
    } finally {
      await fresh.close();
    }
  });

  it('response headers: lower-case, set-cookie left out, capped at 8 KiB with whole headers; failed attempts too', async () => {
    const path = uniquePath('/big');
    const big: Record<string, string> = { 'Set-Cookie': 'session=secret-session', 'X-Request-Id': 'req-42' };
    for (let i = 0; i < 12; i++) big[`X-Big-${i}`] = String(i % 10).repeat(1000);
    r.on(path, () => ({ status: 503, headers: big, body: 'busy' }));
    const id = await withHeaders(`${r.url}${path}`, [{ name: 'X-Tenant', value: 'acme' }]);
    const a = await deliverOne(id, 1, 'c-big');
    assert.equal(a.outcome, 'HTTP_ERROR');
    assert.equal(a.responseStatus, 503);
    const h = a.responseHeaders!;
    assert.ok(h, 'a failed attempt with an answer records its headers');
    assert.equal(h['x-request-id'], 'req-42');
    assert.ok(!('set-cookie' in h) && !('Set-Cookie' in h));
    assert.ok(Object.keys(h).every((k) => k === k.toLowerCase()));
    const kept = Object.keys(h).filter((k) => k.startsWith('x-big-'));
    for (const k of kept) assert.equal(h[k], String(Number(k.slice(6)) % 10).repeat(1000), `${k} is kept whole`);
    assert.ok(kept.length < 12 && kept.length >= 6, `${kept.length} big headers kept`);
    assert.equal(h[DROPPED_HEADERS_KEY], 12 - kept.length);
    const bytes = Object.entries(h)
      .filter(([k]) => k !== DROPPED_HEADERS_KEY)
      .reduce((n, [k, v]) => n + k.length + String(v).length, 0);
    assert.ok(bytes <= MAX_RESPONSE_HEADERS_BYTES, `${bytes} bytes`);
    assert.ok(a.timings && a.remoteAddress);
  });

  it('a reset or a timeout records what got measured: no answer, no headers, the time spent', async () => {
    // A server of its own with a short timeout: the other tests hold requests longer than it.
    const t = await startServer('dlv_headers_timeout', {
      env: { HOOKLINE_RETRY_SCHEDULE: '1h', HOOKLINE_DELIVERY_TIMEOUT: '1s' },
    });
    try {
      const reset = uniquePath('/reset');
      const hang = uniquePath('/hang');
      r.on(reset, () => 'reset');
      r.on(hang, () => 'hang');
      const resetId = (await createWebhook(t, { url: `${r.url}${reset}`, subs: [['COURSES', 'CREATE']] })).id;
      const hangId = (await createWebhook(t, { url: `${r.url}${hang}`, subs: [['COURSES', 'CREATE']] })).id;
      const e = await publish(t, 'COURSES', 'CREATE', { id: 'c-fail' });
      const attempt = async (webhookId: string) => {
        const id = deliveryFor(e, webhookId);
        await waitForAttempts(t, id, 1);
        const d = must(
          await t.gql(
            `query($id: ID!) { delivery(id: $id) { attempts { attemptNumber outcome responseStatus remoteAddress
               responseHeaders timings { dnsMs connectMs tlsMs firstByteMs totalMs reusedConnection } } } }`,
            { id },
          ),
        ).delivery;
        return (d.attempts as Forensics[])[0]!;
      };
      const [ra, ha] = await Promise.all([attempt(resetId), attempt(hangId)]);
      assert.equal(ra.outcome, 'NETWORK_ERROR');
      assert.equal(ha.outcome, 'TIMEOUT');
      for (const a of [ra, ha]) {
        assert.equal(a.responseHeaders, null);
        assert.ok(a.timings, `${a.outcome}: timings as far as they went`);
        assert.equal(a.timings.firstByteMs, null);
        assert.match(a.remoteAddress ?? '', /^127\.0\.0\.1:\d+$/);
      }
      assert.ok(ha.timings!.totalMs >= 900, `a timeout took the timeout: ${ha.timings!.totalMs} ms`);
    } finally {
      await t.stop();
    }
  });

  it('a header change: nothing claimed before it goes out with the old headers', async () => {
    const path = uniquePath('/change');
    let release!: () => void;
    const released = new Promise<void>((res) => (release = res));
    let n = 0;
    r.on(path, () => ({ status: 200, ...(++n <= 2 ? { until: released } : {}) }));
    const id = await withHeaders(`${r.url}${path}`, [{ name: 'X-Api-Key', value: 'old-key', secret: true }]);
    const events: PublishedEvent[] = await Promise.all(
      Array.from({ length: EVENTS }, (_, i) => publish(s, 'COURSES', 'CREATE', { id: `c-ch${i}` })),
    );
    await eventually(() => receivedAt(r, path).length >= 2, 5_000, 'two requests on the wire');
    must(
      await s.gql(
        `mutation($id: ID!) { updateWebhook(id: $id, input: {headers: [{name: "X-Api-Key", value: "new-key", secret: true}]}) { id } }`,
        {
          id,
        },
      ),
    );
    release();
    await eventually(() => receivedAt(r, path).length === EVENTS, 30_000, 'every event delivered');
    const [first, second, ...later] = receivedAt(r, path);
    assert.deepEqual([first!.headers['x-api-key'], second!.headers['x-api-key']], ['old-key', 'old-key']);
    assert.equal(later.length, EVENTS - 2);
    for (const m of later) assert.equal(m.headers['x-api-key'], 'new-key');
    assert.equal(events.length, EVENTS);
  });
});
