import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  createWebhook,
  eventually,
  getDelivery,
  makeDue,
  must,
  otlpEnv,
  publishTraced,
  spawnServer,
  startOtlpReceiver,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  type OtlpReceiver,
  type Receiver,
  type ReceivedSpan,
  type ServerProcess,
  type TestServer,
} from '../kit/index.js';

// Traces end to end (contract revision 3, telemetry/tracing.ts), against a real
// OTLP/HTTP receiver on loopback: a publish carrying a traceparent continues the
// publisher's trace as publishEvent → delivery (per webhook) → attempt (per
// try), in this process and in a `hookline worker` of its own, and a webhook
// with sendTraceparent hands the destination the attempt's span.

const SERVER_SPAN = 2;
const CLIENT_SPAN = 3;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const named = (spans: ReceivedSpan[], name: string, traceId: string) =>
  spans.filter((s) => s.name === name && s.traceId === traceId);

async function sendTraceparentWebhook(s: TestServer, r: Receiver, path: string, on: boolean): Promise<string> {
  const w = await createWebhook(s, { url: `${r.url}${path}`, subs: [['USERS', 'CREATE']], name: path });
  if (on) {
    must(
      await s.gql(`mutation($id: ID!) { updateWebhook(id: $id, input: {sendTraceparent: true}) { id } }`, {
        id: w.id,
      }),
    );
  }
  return w.id;
}

describe('telemetry: traces over OTLP', () => {
  let otlp: OtlpReceiver;
  let r: Receiver;

  before(async () => {
    otlp = await startOtlpReceiver();
    r = await startReceiver();
    // The SDK reads the standard variables from the process's environment, as in production.
    Object.assign(process.env, otlpEnv(otlp, 'hookline-test'));
  });
  after(async () => {
    await r.close();
    await otlp.close();
  });

  it('continues the publisher trace: publishEvent → delivery per webhook → attempt, traceparent sent only when asked', async () => {
    const s = await startServer('trc_local', { env: otlpEnv(otlp, 'hookline-test') });
    try {
      const withHeader = uniquePath('/traced');
      const without = uniquePath('/plain');
      const tracedHook = await sendTraceparentWebhook(s, r, withHeader, true);
      const plainHook = await sendTraceparentWebhook(s, r, without, false);
      const traceId = hex(16);
      const publisherSpan = hex(8);
      const event = await publishTraced(s, `00-${traceId}-${publisherSpan}-01`, { id: 'u1' });
      assert.equal(event.traceId, traceId, "Event.traceId is the publisher's trace");

      const deliveries = new Map(event.deliveries.map((d) => [d.webhook.id, d.id]));
      await waitForAttempts(s, deliveries.get(tracedHook)!, 1);
      await waitForAttempts(s, deliveries.get(plainHook)!, 1);
      await eventually(() => named(otlp.spans, 'delivery', traceId).length === 2, 10_000, 'both delivery spans');

      const [publishSpan, ...others] = named(otlp.spans, 'publishEvent', traceId);
      assert.ok(publishSpan && others.length === 0, 'one publishEvent span in the trace');
      assert.equal(publishSpan.parentSpanId, publisherSpan, "a child of the publisher's span");
      assert.equal(publishSpan.kind, SERVER_SPAN);
      assert.equal(publishSpan.attributes['hookline.event.id'], event.id);
      assert.equal(publishSpan.resource['service.name'], 'hookline-test', 'OTEL_SERVICE_NAME is honoured');

      const attempts = named(otlp.spans, 'attempt', traceId);
      assert.equal(attempts.length, 2);
      for (const [webhookId, deliveryId] of deliveries) {
        const delivery = named(otlp.spans, 'delivery', traceId).find(
          (d) => d.attributes['hookline.webhook.id'] === webhookId,
        );
        assert.ok(delivery, `a delivery span for webhook ${webhookId}`);
        assert.equal(delivery.parentSpanId, publishSpan.spanId, 'delivery under publishEvent');
        assert.equal(delivery.attributes['hookline.delivery.id'], deliveryId);
        assert.equal(delivery.attributes['hookline.delivery.status'], 'SUCCEEDED');
        const attempt = attempts.find((a) => a.attributes['hookline.delivery.id'] === deliveryId);
        assert.ok(attempt, `an attempt span for delivery ${deliveryId}`);
        assert.equal(attempt.parentSpanId, delivery.spanId, 'attempt under delivery');
        assert.equal(attempt.kind, CLIENT_SPAN);
        assert.equal(attempt.attributes['http.response.status_code'], 200);
        assert.ok(
          delivery.startMs <= attempt.startMs && attempt.endMs <= delivery.endMs + 1,
          'the delivery spans its attempt',
        );
        const stored = await getDelivery(s, deliveryId);
        const [a] = (await s.gql(`query($id: ID!) { delivery(id: $id) { attempts { traceId } } }`, { id: stored.id }))
          .data.delivery.attempts as { traceId: string }[];
        assert.equal(a!.traceId, traceId, 'DeliveryAttempt.traceId');
      }

      const sent = r.received.filter((x) => x.path === withHeader);
      assert.equal(sent.length, 1);
      const tracedAttempt = attempts.find((a) => a.attributes['hookline.delivery.id'] === deliveries.get(tracedHook));
      assert.equal(
        sent[0]!.headers.traceparent,
        `00-${traceId}-${tracedAttempt!.spanId}-01`,
        "names the attempt's span",
      );
      const plain = r.received.filter((x) => x.path === without);
      assert.equal(plain.length, 1);
      assert.equal(plain[0]!.headers.traceparent, undefined, 'no traceparent without sendTraceparent');
    } finally {
      await s.stop();
    }
  });

  it('publishEvents: one publishEvents span, every event of the batch in it', async () => {
    const s = await startServer('trc_batch', { env: otlpEnv(otlp, 'hookline-test') });
    try {
      const traceId = hex(16);
      const res = await fetch(s.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${s.keys.PUBLISHER}`,
          traceparent: `00-${traceId}-${hex(8)}-01`,
        },
        body: JSON.stringify({
          query: `mutation { publishEvents(inputs: [{resource: USERS, action: CREATE, payload: {id: "b1"}},
                                                    {resource: USERS, action: CREATE, payload: {id: "b2"}}]) { traceId } }`,
        }),
      });
      const events = must((await res.json()) as { data: { publishEvents: { traceId: string }[] } }).publishEvents;
      assert.deepEqual(
        events.map((e) => e.traceId),
        [traceId, traceId],
      );
      await eventually(() => named(otlp.spans, 'publishEvents', traceId).length === 1, 10_000, 'the batch span');
      assert.equal(named(otlp.spans, 'publishEvents', traceId)[0]!.attributes['hookline.events'], 2);
    } finally {
      await s.stop();
    }
  });

  it('across processes: published here without a worker, delivered and retried by `hookline worker`, in one trace', async () => {
    const s = await startServer('trc_split', { env: { ...otlpEnv(otlp, 'hookline-test'), HOOKLINE_WORKER: 'false' } });
    let worker: ServerProcess | null = null;
    try {
      const path = uniquePath('/split');
      let calls = 0;
      r.on(path, () => (++calls === 1 ? { status: 500 } : { status: 200 }));
      const webhookId = await sendTraceparentWebhook(s, r, path, true);
      worker = await spawnServer(s.db, {
        kind: 'worker',
        env: { ...otlpEnv(otlp, 'hookline-worker'), HOOKLINE_RETRY_SCHEDULE: '1h' },
      });
      await worker.ready();
      const traceId = hex(16);
      const event = await publishTraced(s, `00-${traceId}-${hex(8)}-01`, { id: 'u2' });
      const deliveryId = event.deliveries.find((d) => d.webhook.id === webhookId)!.id;
      await waitForAttempts(s, deliveryId, 1);
      await makeDue(s, deliveryId);
      await waitForAttempts(s, deliveryId, 2);
      await eventually(() => named(otlp.spans, 'delivery', traceId).length === 1, 10_000, 'the delivery span');

      const [publishSpan] = named(otlp.spans, 'publishEvent', traceId);
      const [delivery] = named(otlp.spans, 'delivery', traceId);
      assert.ok(publishSpan && delivery);
      assert.equal(publishSpan.resource['service.name'], 'hookline-test');
      assert.equal(delivery.resource['service.name'], 'hookline-worker', 'the worker process exported it');
      assert.equal(delivery.parentSpanId, publishSpan.spanId, 'the worker continued the stored trace context');
      assert.equal(delivery.attributes['hookline.delivery.attempts'], 2);
      const attempts = named(otlp.spans, 'attempt', traceId).sort((a, b) => a.startMs - b.startMs);
      assert.equal(attempts.length, 2, 'one span per try');
      for (const a of attempts) assert.equal(a.parentSpanId, delivery.spanId, 'every try under the one delivery span');
      assert.equal(attempts[0]!.status, 2, 'the failed try is an error');
      assert.equal(attempts[0]!.attributes['http.response.status_code'], 500);
      const sent = r.received.filter((x) => x.path === path).map((x) => x.headers.traceparent);
      assert.deepEqual(
        sent,
        attempts.map((a) => `00-${traceId}-${a.spanId}-01`),
        'each try names its own span',
      );
    } finally {
      await worker?.stop();
      await s.stop();
    }
  });
});
