import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { In, type DataSource } from 'typeorm';
import { fieldChanges, type Actor } from '../../domain/audit.js';
import { eventType } from '../../domain/catalog.js';
import { notFound } from '../../domain/errors.js';
import { targetAccount, type Scope } from '../../domain/accounts.js';
import { liveAccount } from '../../storage/sql/accounts.js';
import { visible } from '../visibility.js';
import type { DeliveryOrdering, WebhookStatus } from '../../domain/statuses.js';
import type { UrlPolicy } from '../../domain/url-policy.js';
import { validLimit, validLimitChange } from '../../domain/protection.js';
import {
  containing,
  isUuid,
  validDestination,
  validName,
  validSearch,
  validSubscriptions,
} from '../../domain/validation.js';
import type { FeedPublisher } from '../../feed/feed.js';
import { Webhook, WebhookSubscription } from '../../storage/entities/index.js';
import { cancelPendingForWebhook } from '../../storage/sql/deliveries.js';
import { applyOrdering } from '../../storage/sql/ordering.js';
import { unparkPaced } from '../../storage/sql/pacing.js';
import { deleteSubscriptionsOf, insertSubscriptions } from '../../storage/sql/subscriptions.js';
import {
  insertWebhook,
  setWebhookStatus,
  softDeleteWebhook,
  updateWebhookConfig,
  type WebhookConfigChange,
} from '../../storage/sql/webhooks.js';
import type { Telemetry } from '../../telemetry/bus.js';
import type { SecretVault } from '../secrets.js';
import {
  audited,
  filtersOf,
  readWebhook,
  readWebhookOrFail,
  webhookToChange,
  type SubscriptionInput,
} from './common.js';
import { secretsAtCreation, secretsUpdate } from './secrets.js';
import { headersChange, sealHeaders, storedSecretNames } from './headers.js';
import { headersForAudit, validHeaders, type HeaderSpec } from '../../domain/headers.js';

// A webhook's life (created, changed, paused, resumed, deleted) and reading webhooks.

export interface CreateWebhookInput {
  name: string;
  destinationUrl: string;
  bearerToken?: string | null;
  hmacSecret?: string | null;
  generateHmacSecret?: boolean | null;
  generateSigningKey?: boolean | null;
  subscriptions?: SubscriptionInput[] | null;
  ordering?: DeliveryOrdering | null;
  /** Omitted: the caller's account for a scoped key, else the default account. */
  accountId?: string | null;
  sendTraceparent?: boolean | null;
  headers?: HeaderSpec[] | null;
  rateLimit?: number | null;
  maxInFlight?: number | null;
}

export interface UpdateWebhookInput {
  name?: string | null;
  destinationUrl?: string | null;
  bearerToken?: string | null;
  clearBearerToken?: boolean | null;
  hmacSecret?: string | null;
  clearHmacSecret?: boolean | null;
  ordering?: DeliveryOrdering | null;
  sendTraceparent?: boolean | null;
  /** Replaces the whole list; omitted: kept. */
  headers?: HeaderSpec[] | null;
  /** 0 removes the limit; null or omitted keeps it. */
  rateLimit?: number | null;
  maxInFlight?: number | null;
}

export interface WebhookPage {
  items: Webhook[];
  hasNextPage: boolean;
  totalCount: number;
}

export class WebhookConfig {
  constructor(
    private readonly pool: pg.Pool,
    /** For reads only: every change is a transaction on the pool. */
    private readonly reads: DataSource,
    private readonly feed: FeedPublisher,
    private readonly urlPolicy: UrlPolicy,
    private readonly vault: SecretVault,
    private readonly telemetry: Telemetry,
    /** A resume releases parked deliveries at most this many a second (HOOKLINE_REPLAY_RATE). */
    private readonly releaseRatePerSecond: number,
  ) {}

  /** A webhook that is not deleted, with its subscriptions. */
  get(scope: Scope, id: string): Promise<Webhook | null> {
    return readWebhook(this.reads, scope, id);
  }

  getOrFail(scope: Scope, id: string): Promise<Webhook> {
    return readWebhookOrFail(this.reads, scope, id);
  }

  /** Deleted ones too: the delivery log still names them. */
  byIds(scope: Scope, ids: readonly string[]): Promise<Webhook[]> {
    const qb = this.reads.getRepository(Webhook).createQueryBuilder('w').where('w.id IN (:...ids)', { ids });
    return visible(qb, 'w', scope).getMany();
  }

  /** Deleted or not, in the scope, with its subscriptions as they are now. */
  withSubscriptions(scope: Scope, id: string): Promise<Webhook | null> {
    return readWebhook(this.reads, scope, id, { deleted: true });
  }

  /** Of webhooks the caller has read already (its scope applied there). */
  subscriptionsOf(webhookIds: readonly string[]): Promise<WebhookSubscription[]> {
    return this.reads
      .getRepository(WebhookSubscription)
      .find({ where: { webhookId: In([...webhookIds]) }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  async page(
    scope: Scope,
    filter: { status?: WebhookStatus | null; search?: string | null },
    limit: number,
    after: { createdAt: Date; id: string } | null,
  ): Promise<WebhookPage> {
    const search = validSearch(filter.search, 'a name or destination URL');
    const qb = this.reads
      .getRepository(Webhook)
      .createQueryBuilder('w')
      .where('w.deleted_at IS NULL')
      .orderBy('w.created_at', 'DESC')
      .addOrderBy('w.id', 'DESC');
    visible(qb, 'w', scope);
    if (filter.status) qb.andWhere('w.status = :status', { status: filter.status });
    // A scan of the configuration table (thousands of rows, not the delivery log): no index needed.
    if (search !== null) {
      qb.andWhere(`(w.name ILIKE :pattern ESCAPE '\\' OR w.destination_url ILIKE :pattern ESCAPE '\\')`, {
        pattern: containing(search),
      });
    }
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('(w.created_at, w.id) < (:at, :id)', { at: after.createdAt, id: after.id });
    const rows = await qb.take(limit + 1).getMany();
    const items = rows.slice(0, limit);
    return { items, hasNextPage: rows.length > limit, totalCount };
  }

  async create(
    scope: Scope,
    input: CreateWebhookInput,
    actor: Actor,
  ): Promise<{ webhook: Webhook; generatedSecret: string | null }> {
    const accountId = targetAccount(scope, input.accountId, () => notFound('account', input.accountId!));
    const name = validName('input.name', input.name);
    const destinationUrl = validDestination('input.destinationUrl', input.destinationUrl, this.urlPolicy);
    const secrets = secretsAtCreation(this.vault, input);
    const specs = validSubscriptions('input.subscriptions', input.subscriptions ?? []);
    const ordering = input.ordering ?? 'NONE';
    const sendTraceparent = input.sendTraceparent ?? false;
    const headers = validHeaders('input.headers', input.headers ?? []);
    const rateLimit = validLimit('input.rateLimit', input.rateLimit);
    const maxInFlight = validLimit('input.maxInFlight', input.maxInFlight);

    // The id is made here: it is part of every sealed secret's additional data.
    const id = randomUUID();
    await audited(this.pool, async (db) => {
      if (!isUuid(accountId) || !(await liveAccount(db, accountId))) throw notFound('account', accountId);
      const stored = sealHeaders(this.vault, id, headers);
      await insertWebhook(db, {
        id,
        accountId,
        name,
        destinationUrl,
        ordering,
        sendTraceparent,
        headers: stored,
        rateLimit,
        maxInFlight,
        ...secrets.seal(id),
      });
      await insertSubscriptions(db, id, specs);
      const changes: Record<string, unknown> = {
        name: { new: name },
        destinationUrl: { new: destinationUrl },
        subscriptions: { new: specs.map((p) => eventType(p.resource, p.action)).sort() },
      };
      const filters = filtersOf(specs);
      if (filters) changes.filters = { new: filters };
      if (ordering !== 'NONE') changes.ordering = { new: ordering };
      if (sendTraceparent) changes.sendTraceparent = { new: true };
      if (stored.length) changes.headers = { new: headersForAudit(stored) };
      if (rateLimit !== null) changes.rateLimit = { new: rateLimit };
      if (maxInFlight !== null) changes.maxInFlight = { new: maxInFlight };
      Object.assign(changes, secrets.changes);
      return {
        result: undefined,
        audit: { actor, action: 'webhook.created', targetType: 'Webhook', targetId: id, changes, accountId },
      };
    });
    return { webhook: await this.getOrFail(scope, id), generatedSecret: secrets.generatedSecret };
  }

  async update(scope: Scope, id: string, input: UpdateWebhookInput, actor: Actor): Promise<Webhook> {
    const next: WebhookConfigChange = {};
    if (input.name != null) next.name = validName('input.name', input.name);
    if (input.destinationUrl != null) {
      next.destinationUrl = validDestination('input.destinationUrl', input.destinationUrl, this.urlPolicy);
    }
    const secrets = secretsUpdate(this.vault, input);
    if (input.ordering != null) next.ordering = input.ordering;
    // Read with the next claim: a delivery claimed before the change is sent as claimed.
    if (input.sendTraceparent != null) next.sendTraceparent = input.sendTraceparent;
    // Decided by the next claim, across every worker.
    const rateLimit = validLimitChange('input.rateLimit', input.rateLimit);
    const maxInFlight = validLimitChange('input.maxInFlight', input.maxInFlight);
    if (rateLimit !== undefined) next.rateLimit = rateLimit;
    if (maxInFlight !== undefined) next.maxInFlight = maxInFlight;

    await audited(this.pool, async (db) => {
      const current = await webhookToChange(db, scope, id);
      const changes: Record<string, unknown> = fieldChanges(
        {
          name: current.name,
          destinationUrl: current.destinationUrl,
          ordering: current.ordering,
          sendTraceparent: current.sendTraceparent,
          rateLimit: current.rateLimit,
          maxInFlight: current.maxInFlight,
        },
        {
          name: next.name ?? current.name,
          destinationUrl: next.destinationUrl ?? current.destinationUrl,
          ordering: next.ordering ?? current.ordering,
          sendTraceparent: next.sendTraceparent ?? current.sendTraceparent,
          rateLimit: next.rateLimit === undefined ? current.rateLimit : next.rateLimit,
          maxInFlight: next.maxInFlight === undefined ? current.maxInFlight : next.maxInFlight,
        },
      );
      const { columns, changes: secretChanges } = secrets(current);
      Object.assign(changes, secretChanges);
      if (input.headers != null) {
        // Checked against the stored list: an empty secret value keeps the one stored under its name.
        const checked = validHeaders('input.headers', input.headers, storedSecretNames(current.headers));
        const stored = sealHeaders(this.vault, id, checked, current.headers);
        const change = headersChange(current.headers, stored);
        if (change) {
          next.headers = stored;
          changes.headers = change;
        }
      }
      if (Object.keys(changes).length === 0) return { result: undefined, audit: null };
      await updateWebhookConfig(db, id, { ...next, ...columns });
      // Deliveries not yet started follow the new ordering from now on.
      if ('ordering' in changes) await applyOrdering(db, id, next.ordering === 'PER_OBJECT');
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.updated',
          targetType: 'Webhook',
          targetId: id,
          changes,
          accountId: current.accountId,
        },
      };
    });
    return this.getOrFail(scope, id);
  }

  /** Soft delete: the delivery log keeps pointing at the webhook; pending deliveries are cancelled. */
  async delete(scope: Scope, id: string, actor: Actor): Promise<boolean> {
    await audited(this.pool, async (db) => {
      const current = await webhookToChange(db, scope, id);
      await deleteSubscriptionsOf(db, id);
      await softDeleteWebhook(db, id);
      const cancelled = await cancelPendingForWebhook(db, id);
      if (cancelled) this.telemetry.emit('finished', { status: 'CANCELLED', deliveries: cancelled });
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.deleted',
          targetType: 'Webhook',
          targetId: id,
          changes: { name: { old: current.name } },
          accountId: current.accountId,
        },
      };
    });
    return true;
  }

  async pause(scope: Scope, id: string, reason: string, actor: Actor): Promise<Webhook> {
    return this.setStatus(scope, id, 'PAUSED', reason, actor);
  }

  /** ACTIVE again, failure history cleared, parked deliveries sent from now on, paced (storage/sql/pacing.ts). */
  async resume(scope: Scope, id: string, actor: Actor): Promise<Webhook> {
    return this.setStatus(scope, id, 'ACTIVE', null, actor);
  }

  private async setStatus(
    scope: Scope,
    id: string,
    status: WebhookStatus,
    reason: string | null,
    actor: Actor,
  ): Promise<Webhook> {
    const changed = await audited(this.pool, async (db) => {
      const current = await webhookToChange(db, scope, id);
      if (current.status === status) return { result: false, audit: null };
      await setWebhookStatus(db, id, status, reason);
      if (status === 'ACTIVE') await unparkPaced(db, id, this.releaseRatePerSecond);
      return {
        result: true,
        audit: {
          actor,
          action: status === 'ACTIVE' ? 'webhook.resumed' : 'webhook.paused',
          targetType: 'Webhook',
          targetId: id,
          changes: {
            status: { old: current.status, new: status },
            statusReason: { old: current.statusReason, new: reason },
          },
          accountId: current.accountId,
        },
      };
    });
    const webhook = await this.getOrFail(scope, id);
    if (changed) this.feed.webhookStatus({ webhookId: id, accountId: webhook.accountId, status, reason });
    return webhook;
  }
}
