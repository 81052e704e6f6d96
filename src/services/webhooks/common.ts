import type pg from 'pg';
import type { DataSource } from 'typeorm';
import type { Scope } from '../../domain/accounts.js';
import { visible } from '../visibility.js';
import type { AuditRecord } from '../../domain/audit.js';
import { eventType, type EventAction, type ResourceType } from '../../domain/catalog.js';
import { notFound } from '../../domain/errors.js';
import { isUuid, type SubscriptionPair } from '../../domain/validation.js';
import { Webhook } from '../../storage/entities/index.js';
import { insertAudit } from '../../storage/sql/audit.js';
import { inTransaction, type Db } from '../../storage/sql/db.js';
import { webhookForChange, type StoredWebhook } from '../../storage/sql/webhooks.js';

// What the three webhook services share: a change is one transaction on the
// pool (hand-written SQL, its audit entry included); what it returns is read
// after the commit, through the ORM.

export type SubscriptionInput = SubscriptionPair & { filter?: Record<string, unknown> | null };

/** Runs `change` and writes its audit entry in one transaction. */
export function audited<T>(
  pool: pg.Pool,
  change: (db: Db) => Promise<{ result: T; audit: AuditRecord | null }>,
): Promise<T> {
  return inTransaction(pool, async (db) => {
    const { result, audit } = await change(db);
    if (audit) await insertAudit(db, audit);
    return result;
  });
}

/** The webhook a change is about, as stored in its transaction; NOT_FOUND when deleted or never there. */
export async function webhookToChange(db: Db, scope: Scope, id: string): Promise<StoredWebhook> {
  const found = isUuid(id) ? await webhookForChange(db, id, scope) : null;
  if (!found) throw notFound('webhook', id);
  return found;
}

/** A webhook in the scope, with its subscriptions; not deleted unless `deleted` says so. */
export function readWebhook(
  reads: DataSource,
  scope: Scope,
  id: string,
  { deleted = false }: { deleted?: boolean } = {},
): Promise<Webhook | null> {
  if (!isUuid(id)) return Promise.resolve(null);
  const qb = reads
    .getRepository(Webhook)
    .createQueryBuilder('w')
    .leftJoinAndSelect('w.subscriptions', 's')
    .where(deleted ? 'w.id = :id' : 'w.id = :id AND w.deleted_at IS NULL', { id });
  return visible(qb, 'w', scope).getOne();
}

export async function readWebhookOrFail(reads: DataSource, scope: Scope, id: string): Promise<Webhook> {
  const found = await readWebhook(reads, scope, id);
  if (!found) throw notFound('webhook', id);
  return found;
}

/** The filters of the subscriptions that have one, by event type: how the audit log shows them. */
export function filtersOf(specs: readonly { resource: ResourceType; action: EventAction; filter: unknown }[]) {
  const withFilter = specs.filter((p) => p.filter !== null);
  return withFilter.length
    ? Object.fromEntries(withFilter.map((p) => [eventType(p.resource, p.action), p.filter]))
    : null;
}
