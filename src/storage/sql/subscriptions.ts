import type { EventAction, ResourceType } from '../../domain/catalog.js';
import type { SubscriptionSpec } from '../../domain/validation.js';
import type { Db } from './db.js';

// A webhook's subscriptions, written in the transaction of the change that
// audits them (services/webhooks/subscriptions.ts).

export interface StoredSubscription {
  id: string;
  resource: ResourceType;
  action: EventAction;
  filter: Record<string, unknown> | null;
}

export async function subscriptionsOf(db: Db, webhookId: string): Promise<StoredSubscription[]> {
  const { rows } = await db.query<StoredSubscription>(
    'SELECT id, resource, action, filter FROM webhook_subscriptions WHERE webhook_id = $1 ORDER BY created_at, id',
    [webhookId],
  );
  return rows;
}

/** Throws the unique violation webhook_subscriptions_unique when a pair is there already. */
export async function insertSubscriptions(
  db: Db,
  webhookId: string,
  specs: readonly SubscriptionSpec[],
): Promise<void> {
  if (specs.length === 0) return;
  // As one jsonb parameter: pg would send the filter_terms arrays as PostgreSQL arrays, not JSON.
  const rows = specs.map((p) => ({
    resource: p.resource,
    action: p.action,
    filter: p.filter,
    filter_path: p.filterPath,
    filter_terms: p.filterTerms,
  }));
  await db.query(
    // The webhook's account, copied: the fan-out index starts with it (migrations/1765300000000-Accounts.ts).
    `INSERT INTO webhook_subscriptions (webhook_id, account_id, resource, action, filter, filter_path, filter_terms)
     SELECT w.id, w.account_id, s.resource, s.action, s.filter, s.filter_path::jsonpath, s.filter_terms
     FROM webhooks w,
          jsonb_to_recordset($2::jsonb) AS s(resource text, action text, filter jsonb, filter_path text, filter_terms jsonb)
     WHERE w.id = $1`,
    [webhookId, JSON.stringify(rows)],
  );
}

export async function deleteSubscriptions(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query('DELETE FROM webhook_subscriptions WHERE id = ANY($1::uuid[])', [ids]);
}

export async function deleteSubscriptionsOf(db: Db, webhookId: string): Promise<void> {
  await db.query('DELETE FROM webhook_subscriptions WHERE webhook_id = $1', [webhookId]);
}

export async function updateSubscriptionFilter(db: Db, id: string, spec: SubscriptionSpec): Promise<void> {
  await db.query(
    'UPDATE webhook_subscriptions SET filter = $2::jsonb, filter_path = $3::jsonpath, filter_terms = $4::jsonb WHERE id = $1',
    [
      id,
      spec.filter === null ? null : JSON.stringify(spec.filter),
      spec.filterPath,
      spec.filterTerms === null ? null : JSON.stringify(spec.filterTerms),
    ],
  );
}
