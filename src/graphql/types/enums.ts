import { registerEnumType } from 'type-graphql';
import { EVENT_ACTIONS, RESOURCE_TYPES } from '../../domain/catalog.js';
import { API_KEY_ROLES } from '../../domain/roles.js';
import { CIRCUIT_STATES } from '../../domain/protection.js';
import {
  ATTEMPT_OUTCOMES,
  DELIVERY_ORDERINGS,
  DELIVERY_STATUSES,
  REPLAY_SCOPES,
  WEBHOOK_STATUSES,
} from '../../domain/statuses.js';

const asEnum = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const ResourceTypeEnum = asEnum(RESOURCE_TYPES);
export const EventActionEnum = asEnum(EVENT_ACTIONS);
export const WebhookStatusEnum = asEnum(WEBHOOK_STATUSES);
export const DeliveryStatusEnum = asEnum(DELIVERY_STATUSES);
export const AttemptOutcomeEnum = asEnum(ATTEMPT_OUTCOMES);
export const ApiKeyRoleEnum = asEnum(API_KEY_ROLES);
export const DeliveryOrderingEnum = asEnum(DELIVERY_ORDERINGS);
export const ReplayScopeEnum = asEnum(REPLAY_SCOPES);
export const CircuitStateEnum = asEnum(CIRCUIT_STATES);
export const SignatureSchemeEnum = asEnum(['HMAC_SHA256', 'ED25519'] as const);

registerEnumType(ResourceTypeEnum, {
  name: 'ResourceType',
  description: "The objects whose changes can be sent (the seed's 'resources').",
});
registerEnumType(EventActionEnum, {
  name: 'EventAction',
  description: "The kinds of change (the seed's 'events'). COMPLETE exists for ENROLLMENTS only.",
});
registerEnumType(WebhookStatusEnum, { name: 'WebhookStatus' });
registerEnumType(CircuitStateEnum, {
  name: 'CircuitState',
  description: "(rev 3) The destination's circuit breaker.",
  valuesConfig: {
    CLOSED: { description: 'Sending normally.' },
    OPEN: {
      description:
        'Failing: due deliveries wait, keeping their attempts, while one probe per interval tests the destination.',
    },
    HALF_OPEN: { description: 'A probe is in flight; its outcome closes or reopens the circuit.' },
  },
});
registerEnumType(DeliveryStatusEnum, { name: 'DeliveryStatus' });
registerEnumType(AttemptOutcomeEnum, { name: 'AttemptOutcome' });
registerEnumType(ApiKeyRoleEnum, { name: 'ApiKeyRole' });
registerEnumType(SignatureSchemeEnum, {
  name: 'SignatureScheme',
  description: '(rev 2) The signature schemes of Standard Webhooks.',
  valuesConfig: {
    HMAC_SHA256: { description: 'v1: HMAC-SHA256 with a shared secret (whsec_...).' },
    ED25519: { description: 'v1a: ED25519; receivers verify with the public key (whpk_...).' },
  },
});
registerEnumType(DeliveryOrderingEnum, {
  name: 'DeliveryOrdering',
  description: "(rev 2) How a webhook's deliveries are ordered.",
  valuesConfig: {
    NONE: { description: 'Deliveries may arrive in any order (the default, and the fastest).' },
    PER_OBJECT: {
      description:
        'Events about the same object (same resource and payload id) reach this webhook in publish order; a delivery that keeps failing holds back only later events about that object.',
    },
  },
});
registerEnumType(ReplayScopeEnum, {
  name: 'ReplayScope',
  description: '(rev 2) Which deliveries replayDeliveries sends again.',
  valuesConfig: {
    FAILED: { description: 'Deliveries that ended FAILED.' },
    UNDELIVERED: {
      description:
        'Every event of the window that this webhook has not received successfully: failed deliveries, and events it would have received had it been subscribed (a backfill, e.g. for a new webhook).',
    },
    ALL: { description: "Every event of the window that matches the webhook's subscriptions, delivered or not." },
  },
});
