export const WEBHOOK_STATUSES = ['ACTIVE', 'PAUSED', 'DISABLED'] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

export const DELIVERY_ORDERINGS = ['NONE', 'PER_OBJECT'] as const;
export type DeliveryOrdering = (typeof DELIVERY_ORDERINGS)[number];

export const REPLAY_SCOPES = ['FAILED', 'UNDELIVERED', 'ALL'] as const;
export type ReplayScope = (typeof REPLAY_SCOPES)[number];

export const DELIVERY_STATUSES = ['PENDING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const ATTEMPT_OUTCOMES = ['SUCCESS', 'HTTP_ERROR', 'TIMEOUT', 'NETWORK_ERROR', 'BLOCKED'] as const;
