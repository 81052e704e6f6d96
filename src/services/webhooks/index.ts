// Webhooks by concern: their life and configuration, their secrets, their subscriptions.
export { WebhookConfig } from './config.js';
export { DEFAULT_OVERLAP_SECONDS, WebhookSecrets, type SignatureScheme } from './secrets.js';
export { WebhookSubscriptions } from './subscriptions.js';
