import type pg from 'pg';
import type { DataSource } from 'typeorm';
import type { Actor } from '../../domain/audit.js';
import { eventType } from '../../domain/catalog.js';
import { HooklineError, badInput, conflict } from '../../domain/errors.js';
import { samePair, validPairs, validSubscriptions } from '../../domain/validation.js';
import type { Webhook } from '../../storage/entities/index.js';
import { isUniqueViolation, type Db } from '../../storage/sql/db.js';
import {
  deleteSubscriptions,
  insertSubscriptions,
  subscriptionsOf,
  updateSubscriptionFilter,
  type StoredSubscription,
} from '../../storage/sql/subscriptions.js';
import { touchWebhook } from '../../storage/sql/webhooks.js';
import type { Scope } from '../../domain/accounts.js';
import { audited, filtersOf, readWebhookOrFail, webhookToChange, type SubscriptionInput } from './common.js';

// Which events a webhook is sent, and each subscription's filter.

const pairsOf = (subs: readonly StoredSubscription[]) => subs.map((s) => eventType(s.resource, s.action)).sort();

/** The subscriptions of a webhook not deleted, in the scope, as stored in the change's transaction; and its account. */
async function subscriptionsToChange(
  db: Db,
  scope: Scope,
  webhookId: string,
): Promise<{ current: StoredSubscription[]; accountId: string }> {
  const { accountId } = await webhookToChange(db, scope, webhookId);
  return { current: await subscriptionsOf(db, webhookId), accountId };
}

export class WebhookSubscriptions {
  constructor(
    private readonly pool: pg.Pool,
    /** For reads only: every change is a transaction on the pool. */
    private readonly reads: DataSource,
  ) {}

  async add(scope: Scope, webhookId: string, subs: SubscriptionInput[], actor: Actor): Promise<Webhook> {
    const valid = validSubscriptions('subscriptions', subs);
    if (valid.length === 0) throw badInput('subscriptions', 'must list at least one (resource, action) pair');
    await audited(this.pool, async (db) => {
      const { current, accountId } = await subscriptionsToChange(db, scope, webhookId);
      const existing = valid.filter((p) => current.some((s) => samePair(s, p)));
      if (existing.length) {
        throw conflict(
          `webhook is already subscribed to ${existing.map((p) => eventType(p.resource, p.action)).join(', ')}; a subscription has one filter (combine conditions with $or): to change it, use setWebhookSubscriptions`,
        );
      }
      await insertSubscriptions(db, webhookId, valid);
      await touchWebhook(db, webhookId);
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.subscriptions_added',
          targetType: 'Webhook',
          targetId: webhookId,
          accountId,
          changes: {
            subscriptions: { old: pairsOf(current), added: valid.map((p) => eventType(p.resource, p.action)) },
            ...(filtersOf(valid) ? { filters: { added: filtersOf(valid) } } : {}),
          },
        },
      };
    }).catch((e: unknown) => {
      // A concurrent add of the same pair got there first.
      if (isUniqueViolation(e, 'webhook_subscriptions_unique')) {
        throw conflict('webhook is already subscribed to one of these events');
      }
      throw e;
    });
    return readWebhookOrFail(this.reads, scope, webhookId);
  }

  /**
   * The whole set at once, in one transaction: pairs added, pairs removed and
   * filters changed together, so a changed filter never leaves a moment in
   * which the webhook is not subscribed (remove-then-add would drop the events
   * published in between).
   */
  async set(scope: Scope, webhookId: string, subs: SubscriptionInput[], actor: Actor): Promise<Webhook> {
    const wanted = validSubscriptions('subscriptions', subs);
    await audited(this.pool, async (db) => {
      const { current, accountId } = await subscriptionsToChange(db, scope, webhookId);
      const removed = current.filter((s) => !wanted.some((p) => samePair(p, s)));
      const added = wanted.filter((p) => !current.some((s) => samePair(p, s)));
      const refiltered = current.flatMap((s) => {
        const p = wanted.find((w) => samePair(w, s));
        return p && JSON.stringify(p.filter) !== JSON.stringify(s.filter) ? [{ id: s.id, spec: p }] : [];
      });
      if (removed.length + added.length + refiltered.length === 0) return { result: undefined, audit: null };
      await deleteSubscriptions(
        db,
        removed.map((s) => s.id),
      );
      await insertSubscriptions(db, webhookId, added);
      for (const { id, spec } of refiltered) await updateSubscriptionFilter(db, id, spec);
      await touchWebhook(db, webhookId);
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.subscriptions_set',
          targetType: 'Webhook',
          targetId: webhookId,
          accountId,
          changes: {
            subscriptions: { old: pairsOf(current), new: wanted.map((p) => eventType(p.resource, p.action)).sort() },
            ...(filtersOf(current) || filtersOf(wanted)
              ? { filters: { old: filtersOf(current), new: filtersOf(wanted) } }
              : {}),
          },
        },
      };
    }).catch((e: unknown) => {
      // A concurrent change added one of these pairs first.
      if (isUniqueViolation(e, 'webhook_subscriptions_unique')) {
        throw conflict("the webhook's subscriptions changed meanwhile; read them again and retry");
      }
      throw e;
    });
    return readWebhookOrFail(this.reads, scope, webhookId);
  }

  async remove(scope: Scope, webhookId: string, subs: SubscriptionInput[], actor: Actor): Promise<Webhook> {
    subs.forEach((p, i) => {
      if (p.filter != null) {
        throw badInput(
          `subscriptions[${i}].filter`,
          'is not used here: a subscription is removed by its resource and action',
        );
      }
    });
    const valid = validPairs('subscriptions', subs);
    if (valid.length === 0) throw badInput('subscriptions', 'must list at least one (resource, action) pair');
    await audited(this.pool, async (db) => {
      const { current, accountId } = await subscriptionsToChange(db, scope, webhookId);
      const missing = valid.filter((p) => !current.some((s) => samePair(s, p)));
      if (missing.length) {
        throw new HooklineError(
          'NOT_FOUND',
          `webhook is not subscribed to ${missing.map((p) => eventType(p.resource, p.action)).join(', ')}; nothing was removed`,
        );
      }
      await deleteSubscriptions(
        db,
        current.filter((s) => valid.some((p) => samePair(p, s))).map((s) => s.id),
      );
      await touchWebhook(db, webhookId);
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.subscriptions_removed',
          targetType: 'Webhook',
          targetId: webhookId,
          accountId,
          changes: {
            subscriptions: { old: pairsOf(current), removed: valid.map((p) => eventType(p.resource, p.action)) },
          },
        },
      };
    });
    return readWebhookOrFail(this.reads, scope, webhookId);
  }
}
