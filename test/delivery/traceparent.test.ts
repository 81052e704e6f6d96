import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createWebhook, must, publishTraced, startReceiver, startServer, uniquePath } from '../kit/index.js';
import { waitForAttempts, type Receiver, type TestServer } from '../kit/index.js';
import { parseTraceparent } from '../../src/telemetry/tracing.js';

// Trace context with tracing OFF (no OTEL_* variable: the SDK is never loaded):
// every event still has a trace id, the publisher's or a new one, and a webhook
// with sendTraceparent still gets a traceparent in the event's trace. The spans
// themselves are test/telemetry/tracing.test.ts's.

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const attemptTraceIds = async (s: TestServer, deliveryId: string) =>
  (
    must(await s.gql(`query($id: ID!) { delivery(id: $id) { attempts { traceId } } }`, { id: deliveryId })).delivery
      .attempts as { traceId: string | null }[]
  ).map((a) => a.traceId);

describe('delivery: traceparent with tracing off', () => {
  let s: TestServer;
  let r: Receiver;

  before(async () => {
    r = await startReceiver();
    s = await startServer('tp_off', { captureLog: true });
  });
  after(async () => {
    await s?.stop();
    await r?.close();
  });

  it('loads no tracing SDK without the OTEL_* variables', () => {
    assert.equal(s.logs.filter((l) => l.msg === 'tracing on').length, 0);
    assert.ok(s.logs.some((l) => l.msg === 'hookline started'));
  });

  it('sendTraceparent: false by default, set on create and update, each change audited', async () => {
    const plain = await createWebhook(s, { url: `${r.url}/x`, subs: [['USERS', 'UPDATE']] });
    const read = async (id: string) =>
      must(await s.gql(`query($id: ID!) { webhook(id: $id) { sendTraceparent } }`, { id }, 'VIEWER')).webhook
        .sendTraceparent as boolean;
    assert.equal(await read(plain.id), false);
    const created = must(
      await s.gql(
        `mutation($u: String!) { createWebhook(input: {name: "tp", destinationUrl: $u, sendTraceparent: true}) { id sendTraceparent } }`,
        { u: `${r.url}/y` },
      ),
    ).createWebhook as { id: string; sendTraceparent: boolean };
    assert.equal(created.sendTraceparent, true);
    const update = (value: boolean) =>
      s.gql(
        `mutation($id: ID!, $v: Boolean!) { updateWebhook(id: $id, input: {sendTraceparent: $v}) { sendTraceparent } }`,
        {
          id: created.id,
          v: value,
        },
      );
    assert.equal(must(await update(false)).updateWebhook.sendTraceparent, false);
    assert.equal(
      must(await update(false)).updateWebhook.sendTraceparent,
      false,
      'the same value again changes nothing',
    );
    const log = must(
      await s.gql(`query($t: ID!) { auditLog(targetId: $t) { edges { node { action changes } } } }`, { t: created.id }),
    ).auditLog.edges.map((e: { node: { action: string; changes: Record<string, unknown> } }) => e.node);
    assert.deepEqual(
      log.map((n: { action: string; changes: Record<string, unknown> }) => [n.action, n.changes.sendTraceparent]),
      [
        ['webhook.updated', { old: true, new: false }],
        ['webhook.created', { new: true }],
      ],
    );
  });

  it("continues the publisher's trace id, and sends a traceparent in it only to webhooks that ask", async () => {
    const withHeader = uniquePath('/tp-on');
    const without = uniquePath('/tp-off');
    const on = await createWebhook(s, { url: `${r.url}${withHeader}`, subs: [['USERS', 'CREATE']] });
    must(
      await s.gql(`mutation($id: ID!) { updateWebhook(id: $id, input: {sendTraceparent: true}) { id } }`, {
        id: on.id,
      }),
    );
    const off = await createWebhook(s, { url: `${r.url}${without}`, subs: [['USERS', 'CREATE']] });
    const traceId = hex(16);
    const publisherSpan = hex(8);
    const event = await publishTraced(s, `00-${traceId}-${publisherSpan}-01`, { id: 't1' });
    assert.equal(event.traceId, traceId);
    const stored = must(await s.gql(`query($id: ID!) { event(id: $id) { traceId } }`, { id: event.id }, 'VIEWER'));
    assert.equal(stored.event.traceId, traceId, 'as stored');

    const deliveryOf = (id: string) => event.deliveries.find((d) => d.webhook.id === id)!.id;
    await waitForAttempts(s, deliveryOf(on.id), 1);
    await waitForAttempts(s, deliveryOf(off.id), 1);
    const sent = r.received.find((x) => x.path === withHeader)!.headers.traceparent as string;
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(sent);
    assert.ok(m, `a valid traceparent: ${sent}`);
    assert.equal(m[1], traceId, "in the event's trace");
    assert.notEqual(m[2], publisherSpan, "naming the attempt, not the publisher's span");
    assert.deepEqual(await attemptTraceIds(s, deliveryOf(on.id)), [traceId]);
    assert.equal(r.received.find((x) => x.path === without)!.headers.traceparent, undefined);
    assert.deepEqual(await attemptTraceIds(s, deliveryOf(off.id)), [null], 'in no trace: no span, nothing sent');
  });

  it('starts a new trace for a publish without a traceparent, or with an invalid one', async () => {
    const a = await publishTraced(s, null, { id: 't1' });
    const b = await publishTraced(s, null, { id: 't1' });
    const zeros = await publishTraced(s, `00-${'0'.repeat(32)}-${hex(8)}-01`, { id: 't1' });
    for (const e of [a, b, zeros]) assert.match(e.traceId ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(a.traceId, b.traceId);
    assert.notEqual(zeros.traceId, '0'.repeat(32));
  });

  it('reads traceparent headers as W3C Trace Context says', () => {
    const t = hex(16);
    const p = hex(8);
    assert.equal(parseTraceparent(`00-${t}-${p}-01`), `00-${t}-${p}-01`);
    assert.equal(parseTraceparent(` 00-${t}-${p}-00 `), `00-${t}-${p}-00`, 'surrounding spaces');
    assert.equal(
      parseTraceparent(`01-${t}-${p}-01-later`),
      `00-${t}-${p}-01`,
      "a later version's extra fields dropped",
    );
    for (const bad of [
      undefined,
      '',
      `ff-${t}-${p}-01`,
      `00-${t}-${p}-01-extra`,
      `00-${t.toUpperCase()}-${p}-01`,
      `00-${t}-${'0'.repeat(16)}-01`,
      `00-${t}-${p}`,
    ]) {
      assert.equal(parseTraceparent(bad), null, String(bad));
    }
  });
});
