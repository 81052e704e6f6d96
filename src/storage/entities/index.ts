import { Account } from './account.js';
import { ApiKey } from './api-key.js';
import { AuditEntry } from './audit-entry.js';
import { Delivery } from './delivery.js';
import { DeliveryAttempt } from './delivery-attempt.js';
import { Event } from './event.js';
import { Webhook } from './webhook.js';
import { WebhookSubscription } from './webhook-subscription.js';

export { Account, ApiKey, AuditEntry, Delivery, DeliveryAttempt, Event, Webhook, WebhookSubscription };
export const ENTITIES = [Account, ApiKey, AuditEntry, Webhook, WebhookSubscription, Event, Delivery, DeliveryAttempt];
