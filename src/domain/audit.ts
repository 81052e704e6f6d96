// The audit log's vocabulary: who changed what, and how a change is described.
// Secrets appear only as "set", "cleared" or "rotated", never as values or hashes.

export interface Actor {
  /** The API key that made the change; null for the command line and the service itself. */
  keyId: string | null;
  name: string;
}

export const CLI_ACTOR: Actor = { keyId: null, name: 'cli' };
export const SERVICE_ACTOR: Actor = { keyId: null, name: 'hookline' };

export type AuditAction =
  | 'webhook.created'
  | 'webhook.updated'
  | 'webhook.deleted'
  | 'webhook.paused'
  | 'webhook.resumed'
  | 'webhook.disabled'
  | 'webhook.secret_rotated'
  | 'webhook.subscriptions_added'
  | 'webhook.subscriptions_removed'
  | 'webhook.subscriptions_set'
  | 'webhook.test_sent'
  | 'delivery.redelivered'
  | 'deliveries.retried'
  | 'deliveries.replayed'
  | 'object.erased'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'account.created'
  | 'account.updated'
  | 'account.deleted'
  | 'secrets.reencrypted';

export type AuditTarget = 'Webhook' | 'ApiKey' | 'Delivery' | 'Secrets' | 'Account' | 'Object';

export interface AuditRecord {
  actor: Actor;
  action: AuditAction;
  targetType: AuditTarget;
  targetId: string | null;
  changes: Record<string, unknown>;
  /** The account the target belongs to (its scoped readers see the entry); null: the platform's own (unscoped keys, accounts themselves). */
  accountId: string | null;
}

export type SecretChange = 'set' | 'cleared' | 'rotated';

/** How a secret field changed between two stored (sealed) values; null when it did not. */
export function secretChange(before: string | null, after: string | null): SecretChange | null {
  if (before === after) return null;
  return after === null ? 'cleared' : 'set';
}

/** { field: { old, new } } for every field whose value differs. */
export function fieldChanges(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, { old: unknown; new: unknown }> {
  const out: Record<string, { old: unknown; new: unknown }> = {};
  for (const key of Object.keys(after)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key]))
      out[key] = { old: before[key] ?? null, new: after[key] ?? null };
  }
  return out;
}
