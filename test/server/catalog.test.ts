import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileErrors, dereference, validate } from '@readme/openapi-parser';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { CATALOG, NOTICE_RESOURCE, eventType, type JsonSchema } from '../../src/domain/catalog.js';
import { VERSION } from '../../src/version.js';
import { createWebhook, eventually, publish, startReceiver, startServer, uniquePath } from '../kit/index.js';
import type { Receiver, TestServer } from '../kit/index.js';

// GET /catalog/openapi.json (delivery contract, revision 3): a valid OpenAPI
// 3.1 document by a maintained parser, one `webhooks` entry per event type
// whose `data` is exactly the schema publishEvent enforces, whose example is
// accepted by publishEvent, and whose envelope and headers describe what a
// destination really receives.

interface Operation {
  parameters: { name: string; in: string; required: boolean }[];
  security: Record<string, string[]>[];
  requestBody: {
    content: {
      'application/json': { schema: JsonSchema & { properties: Record<string, JsonSchema> }; example: Envelope };
    };
  };
}
interface Envelope {
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}
type Doc = { openapi: string; info: { version: string }; webhooks: Record<string, { post: Operation }> };

describe('GET /catalog/openapi.json', () => {
  let s: TestServer;
  let r: Receiver;
  let doc: Doc;
  let resolved: Doc;

  before(async () => {
    s = await startServer('catalog');
    r = await startReceiver();
    // Without any key: the catalog is public.
    const res = await fetch(`${new URL(s.url).origin}/catalog/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    doc = (await res.json()) as Doc;
    resolved = await dereference<never>(structuredClone(doc) as never);
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  const types = CATALOG.flatMap((res) => res.actions.map((a) => ({ res, action: a, type: eventType(res.type, a) })));

  it('is a valid OpenAPI 3.1 document, with one webhooks entry per event type keyed by its type', async () => {
    const result = await validate(structuredClone(doc) as never);
    assert.ok(result.valid, compileErrors(result));
    assert.equal(doc.openapi, '3.1.0');
    assert.equal(doc.info.version, VERSION);
    assert.deepEqual(Object.keys(doc.webhooks).sort(), types.map((t) => t.type).sort());
    assert.ok(doc.webhooks['enrollment.completed']);
  });

  it('each entry: the envelope with the enforced payload schema as data, the headers, the signature scheme', () => {
    for (const { res, type } of types) {
      const op = resolved.webhooks[type]!.post;
      const schema = op.requestBody.content['application/json'].schema;
      assert.deepEqual(schema.properties.data, res.payloadSchema, type);
      assert.deepEqual(schema.required, ['id', 'type', 'timestamp', 'data']);
      assert.deepEqual(schema.properties.type, { type: 'string', const: type });
      const headers = Object.fromEntries(op.parameters.map((p) => [p.name, p]));
      for (const h of ['webhook-id', 'webhook-timestamp', 'user-agent']) assert.equal(headers[h]?.required, true, h);
      assert.equal(headers['webhook-signature']?.required, false);
      assert.match(JSON.stringify(headers['webhook-signature']), /HMAC-SHA256.*whsec_.*v1a,/);
      assert.deepEqual(op.security, [{}, { bearerToken: [] }], 'authorization: Bearer, when the webhook has a token');
    }
  });

  it('every example validates against its schema and is accepted by publishEvent; what is delivered matches the document', async () => {
    const path = uniquePath('catalog');
    r.on(path, () => ({ status: 200 }));
    const webhook = await createWebhook(s, {
      url: `${r.url}${path}`,
      subs: types.map((t) => [t.res.type, t.action]),
      bearerToken: 'catalog-token',
      generateHmacSecret: true,
    });
    const payloads = new Ajv({ strict: true, allowUnionTypes: true });
    // The two formats the envelope uses, checked as the delivery writes them (ajv ships no format checks).
    const envelopes = new Ajv2020({
      strict: false,
      formats: {
        uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        'date-time': /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/,
      },
    });
    for (const { res, action, type } of types) {
      const op = resolved.webhooks[type]!.post;
      const { schema, example } = op.requestBody.content['application/json'];
      assert.ok(payloads.validate(res.payloadSchema, example.data), `${type}: ${payloads.errorsText()}`);
      // The envelope around data (data itself is draft-07, checked above).
      const outer = { ...schema, properties: { ...schema.properties, data: { type: 'object' } } };
      assert.ok(envelopes.validate(outer, example), `${type}: ${envelopes.errorsText()}`);
      if (res.type === NOTICE_RESOURCE) {
        // Hookline publishes notices itself: a publisher's is refused, and a test event shows the delivery.
        const refused = await s.gql(
          'mutation($p: JSONObject!) { publishEvent(input: {resource: WEBHOOKS, action: FAILING, payload: $p}) { id } }',
          { p: example.data },
          'PUBLISHER',
        );
        assert.equal(refused.errors?.[0]?.extensions?.field, 'input.resource');
        const sent = await s.gql(
          'mutation($id: ID!, $a: EventAction!) { sendTestEvent(webhookId: $id, resource: WEBHOOKS, action: $a) { id } }',
          { id: webhook.id, a: action },
        );
        assert.ok(!sent.errors, JSON.stringify(sent.errors));
        continue;
      }
      const published = await publish(s, res.type, action, example.data);
      assert.equal(published.type, type);
      assert.deepEqual(published.payload, example.data);
    }
    await eventually(() => r.received.filter((x) => x.path === path).length === types.length, 10_000, 'deliveries');
    for (const got of r.received.filter((x) => x.path === path)) {
      const body = JSON.parse(got.body) as Envelope;
      const op = resolved.webhooks[body.type]!.post;
      const { schema } = op.requestBody.content['application/json'];
      const outer = { ...schema, properties: { ...schema.properties, data: { type: 'object' } } };
      assert.ok(envelopes.validate(outer, body), `${body.type}: ${envelopes.errorsText()}`);
      assert.ok(payloads.validate(schema.properties.data!, body.data), `${body.type}: ${payloads.errorsText()}`);
      for (const p of op.parameters.filter((x) => x.required)) assert.ok(got.headers[p.name], `${p.name} sent`);
      assert.match(String(got.headers['webhook-signature']), /^v1,/);
      assert.equal(got.headers.authorization, 'Bearer catalog-token');
    }
  });
});
