import { CATALOG, eventType, samplePayload, type JsonSchema, type ResourceDefinition } from './catalog.js';

// The event catalog as an OpenAPI 3.1 document (delivery contract, revision 3:
// GET /catalog/openapi.json). Derived from CATALOG alone: one entry under
// `webhooks` per event type, keyed by its type string, whose request body is
// the envelope with the resource's payload schema (the very object
// publishEvent validates with) as `data`, an example built from the sample
// payload sendTestEvent sends, the contract's headers and its signature
// scheme. The payload schemas keep their `$schema` (draft-07, what ajv
// checks): OpenAPI 3.1 lets a schema name its dialect, and the keywords they
// use mean the same in draft 2020-12.

/** When the example change happened: fixed, so the document is the same on every request and every host. */
const EXAMPLE_AT = new Date('2026-11-29T04:00:00.000Z');
const EXAMPLE_EVENT_ID = '0193a1e2-7c4b-7d2e-9f10-3b5c8a6d4e21';

const SIGNATURE = `Standard Webhooks, v1. signedContent = webhook-id + "." + webhook-timestamp + "." + raw body.
- HMAC secret: \`v1,<base64(HMAC-SHA256(key, signedContent))>\`; a secret of the form \`whsec_<base64>\` is base64-decoded to the key, any other secret is used as its UTF-8 bytes.
- ED25519 signing key: \`v1a,<base64 ED25519 signature of signedContent>\`, verified with the webhook's public key \`whpk_<base64 of the 32-byte raw key>\` (Webhook.signingPublicKey).
During a rotation's overlap (default 24 hours) one more entry, for the previous secret or key, follows the new one, space-separated: accept the message when any entry verifies. Reject timestamps more than 5 minutes from your clock. Any Standard Webhooks library verifies it.`;

const HEADERS = [
  {
    name: 'webhook-id',
    required: true,
    description:
      "The event's id (the envelope's id): the same on every retry and redelivery, so receivers can drop duplicates.",
    schema: { type: 'string', format: 'uuid' },
  },
  {
    name: 'webhook-timestamp',
    required: true,
    description: 'Unix seconds when this attempt was sent.',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
  {
    name: 'webhook-signature',
    required: false,
    description: `When the webhook has an HMAC secret or a signing key. ${SIGNATURE}`,
    schema: { type: 'string', pattern: '^v1a?,[A-Za-z0-9+/=]+( v1a?,[A-Za-z0-9+/=]+)*$' },
  },
  {
    name: 'traceparent',
    required: false,
    description: "W3C trace context naming the attempt's span, when the webhook has sendTraceparent.",
    schema: { type: 'string' },
  },
  {
    name: 'user-agent',
    required: true,
    description: '`<project-name>/<version>`.',
    schema: { type: 'string' },
  },
].map((h) => ({ in: 'header', ...h }));

/** "live_training_registration" → "LiveTrainingRegistration": the payload's name among the components. */
const componentName = (r: ResourceDefinition) =>
  r.singular
    .split('_')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

function envelope(type: string, data: JsonSchema): JsonSchema {
  return {
    type: 'object',
    required: ['id', 'type', 'timestamp', 'data'],
    properties: {
      id: { type: 'string', format: 'uuid', description: 'The event id; equals the webhook-id header.' },
      type: { type: 'string', const: type },
      timestamp: { type: 'string', format: 'date-time', description: 'When the change happened (occurredAt).' },
      data,
      test: { type: 'boolean', const: true, description: 'Present, true, only on deliveries made by sendTestEvent.' },
    },
    additionalProperties: false,
  };
}

/** The document; `version` is the service's (info.version). */
export function catalogOpenApi(version: string): Record<string, unknown> {
  const webhooks: Record<string, unknown> = {};
  const schemas: Record<string, JsonSchema> = {};
  for (const r of CATALOG) {
    const name = componentName(r);
    schemas[name] = r.payloadSchema;
    for (const action of r.actions) {
      const type = eventType(r.type, action);
      webhooks[type] = {
        post: {
          operationId: type,
          summary: `${type}: a ${r.payloadFormat} was ${type.split('.')[1]}`,
          description: `Sent to webhooks subscribed to (${r.type}, ${action}). \`data\` is the ${r.payloadFormat} as published.`,
          parameters: HEADERS,
          security: [{}, { bearerToken: [] }],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: envelope(type, { $ref: `#/components/schemas/${name}` }),
                example: {
                  id: EXAMPLE_EVENT_ID,
                  type,
                  timestamp: EXAMPLE_AT.toISOString(),
                  data: samplePayload(r.type, action, EXAMPLE_AT),
                },
              },
            },
          },
          responses: {
            '2XX': { description: 'Received: the delivery SUCCEEDED.' },
            '410': { description: 'Gone: the webhook is DISABLED at once; its pending deliveries wait.' },
            '429': {
              description:
                'Retried no sooner than Retry-After asks (capped at the longest scheduled delay); so is 503.',
              headers: { 'retry-after': { schema: { type: 'string' } } },
            },
            default: {
              description:
                'Any other answer, no answer within the timeout (default 15 s), or a network error: retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (±20 %), then FAILED. Redirects are not followed.',
            },
          },
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hookline event catalog',
      version,
      description: `What a destination receives: \`POST <destinationUrl>\`, a JSON envelope {id, type, timestamp, data}, one entry per event type under \`webhooks\`. A webhook's own custom headers (at most 10) follow these. Delivery is at least once.\n\nSignatures: ${SIGNATURE}`,
    },
    webhooks,
    components: {
      schemas,
      securitySchemes: {
        bearerToken: {
          type: 'http',
          scheme: 'bearer',
          description: '`authorization: Bearer <bearer token>` when the webhook has a bearer token.',
        },
      },
    },
  };
}
