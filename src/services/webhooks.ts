import { In, IsNull, type DataSource, type EntityManager } from 'typeorm';
import { HooklineError, badInput, conflict, notFound } from '../domain/errors.js';
import { eventType } from '../domain/catalog.js';
import type { WebhookStatus } from '../domain/statuses.js';
import { newWebhookSecret } from '../domain/tokens.js';
import {
  isUuid,
  validDestination,
  validName,
  validPairs,
  validSecret,
  type SubscriptionPair,
} from '../domain/validation.js';
import { Webhook, WebhookSubscription } from '../storage/entities/index.js';
import { cancelPendingForWebhook, unparkWebhookDeliveries } from '../storage/sql/deliveries.js';
import { clientOf, isUniqueViolation } from '../storage/sql/db.js';
import { setWebhookStatus } from '../storage/sql/webhooks.js';
import type { FeedPublisher } from '../feed/feed.js';
import type { UrlPolicy } from '../domain/url-policy.js';

export interface CreateWebhookInput {
  name: string;
  destinationUrl: string;
  bearerToken?: string | null;
  hmacSecret?: string | null;
  generateHmacSecret?: boolean | null;
  subscriptions?: SubscriptionPair[] | null;
}

export interface UpdateWebhookInput {
  name?: string | null;
  destinationUrl?: string | null;
  bearerToken?: string | null;
  clearBearerToken?: boolean | null;
  hmacSecret?: string | null;
  clearHmacSecret?: boolean | null;
}

export interface WebhookPage {
  items: Webhook[];
  hasNextPage: boolean;
  totalCount: number;
}

export class WebhookService {
  constructor(
    private readonly ds: DataSource,
    private readonly feed: FeedPublisher,
    private readonly urlPolicy: UrlPolicy,
  ) {}

  /** A webhook that is not deleted, with its subscriptions. */
  async get(id: string, manager: EntityManager = this.ds.manager): Promise<Webhook | null> {
    if (!isUuid(id)) return null;
    return manager
      .getRepository(Webhook)
      .findOne({ where: { id, deletedAt: IsNull() }, relations: { subscriptions: true } });
  }

  async getOrFail(id: string, manager: EntityManager = this.ds.manager): Promise<Webhook> {
    const found = await this.get(id, manager);
    if (!found) throw notFound('webhook', id);
    return found;
  }

  async page(
    status: WebhookStatus | null,
    limit: number,
    after: { createdAt: Date; id: string } | null,
  ): Promise<WebhookPage> {
    const qb = this.ds
      .getRepository(Webhook)
      .createQueryBuilder('w')
      .where('w.deleted_at IS NULL')
      .orderBy('w.created_at', 'DESC')
      .addOrderBy('w.id', 'DESC');
    if (status) qb.andWhere('w.status = :status', { status });
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('(w.created_at, w.id) < (:at, :id)', { at: after.createdAt, id: after.id });
    const rows = await qb.take(limit + 1).getMany();
    const items = rows.slice(0, limit);
    return { items, hasNextPage: rows.length > limit, totalCount };
  }

  async create(input: CreateWebhookInput): Promise<{ webhook: Webhook; generatedSecret: string | null }> {
    const name = validName('input.name', input.name);
    const destinationUrl = validDestination('input.destinationUrl', input.destinationUrl, this.urlPolicy);
    const bearerToken =
      input.bearerToken == null ? null : validSecret('input.bearerToken', input.bearerToken, 'bearer');
    if (input.generateHmacSecret && input.hmacSecret != null) {
      throw badInput(
        'input.generateHmacSecret',
        'cannot be combined with input.hmacSecret: give a secret or ask for one, not both',
      );
    }
    const generatedSecret = input.generateHmacSecret ? newWebhookSecret() : null;
    const hmacSecret =
      generatedSecret ?? (input.hmacSecret == null ? null : validSecret('input.hmacSecret', input.hmacSecret, 'hmac'));
    const pairs = validPairs('input.subscriptions', input.subscriptions ?? []);

    const id = await this.ds.transaction(async (m) => {
      const repo = m.getRepository(Webhook);
      const saved = await repo.save(
        repo.create({ name, destinationUrl, bearerToken, hmacSecret, status: 'ACTIVE', statusReason: null }),
      );
      if (pairs.length) {
        await m.getRepository(WebhookSubscription).insert(pairs.map((p) => ({ webhookId: saved.id, ...p })));
      }
      return saved.id;
    });
    return { webhook: await this.getOrFail(id), generatedSecret };
  }

  async update(id: string, input: UpdateWebhookInput): Promise<Webhook> {
    const changes: Partial<Webhook> = {};
    if (input.name != null) changes.name = validName('input.name', input.name);
    if (input.destinationUrl != null) {
      changes.destinationUrl = validDestination('input.destinationUrl', input.destinationUrl, this.urlPolicy);
    }
    if (input.clearBearerToken && input.bearerToken != null) {
      throw badInput(
        'input.clearBearerToken',
        'cannot be combined with input.bearerToken: set a token or clear it, not both',
      );
    }
    if (input.clearHmacSecret && input.hmacSecret != null) {
      throw badInput(
        'input.clearHmacSecret',
        'cannot be combined with input.hmacSecret: set a secret or clear it, not both',
      );
    }
    if (input.bearerToken != null) changes.bearerToken = validSecret('input.bearerToken', input.bearerToken, 'bearer');
    if (input.clearBearerToken) changes.bearerToken = null;
    if (input.hmacSecret != null) changes.hmacSecret = validSecret('input.hmacSecret', input.hmacSecret, 'hmac');
    if (input.clearHmacSecret) changes.hmacSecret = null;

    await this.getOrFail(id);
    if (Object.keys(changes).length) {
      await this.ds
        .getRepository(Webhook)
        .update({ id, deletedAt: IsNull() }, { ...changes, updatedAt: () => 'now()' });
    }
    return this.getOrFail(id);
  }

  /** Soft delete: the delivery log keeps pointing at the webhook; pending deliveries are cancelled. */
  async delete(id: string): Promise<boolean> {
    await this.ds.transaction(async (m) => {
      await this.getOrFail(id, m);
      await m.getRepository(WebhookSubscription).delete({ webhookId: id });
      await m.getRepository(Webhook).update({ id }, { deletedAt: () => 'now()', updatedAt: () => 'now()' });
      await cancelPendingForWebhook(await clientOf(m), id);
    });
    return true;
  }

  async pause(id: string, reason: string): Promise<Webhook> {
    const current = await this.getOrFail(id);
    if (current.status === 'PAUSED') return current;
    return this.setStatus(id, 'PAUSED', reason);
  }

  /** ACTIVE again, failure history cleared, parked deliveries sent now. */
  async resume(id: string): Promise<Webhook> {
    const current = await this.getOrFail(id);
    if (current.status === 'ACTIVE') return current;
    return this.setStatus(id, 'ACTIVE', null);
  }

  private async setStatus(id: string, status: WebhookStatus, reason: string | null): Promise<Webhook> {
    await this.ds.transaction(async (m) => {
      const db = await clientOf(m);
      await setWebhookStatus(db, id, status, reason);
      if (status === 'ACTIVE') await unparkWebhookDeliveries(db, id);
    });
    this.feed.webhookStatus({ webhookId: id, status, reason });
    return this.getOrFail(id);
  }

  async addSubscriptions(webhookId: string, pairs: SubscriptionPair[]): Promise<Webhook> {
    const valid = validPairs('subscriptions', pairs);
    if (valid.length === 0) throw badInput('subscriptions', 'must list at least one (resource, action) pair');
    await this.ds
      .transaction(async (m) => {
        const webhook = await this.getOrFail(webhookId, m);
        const existing = valid.filter((p) =>
          webhook.subscriptions.some((s) => s.resource === p.resource && s.action === p.action),
        );
        if (existing.length) {
          throw conflict(
            `webhook is already subscribed to ${existing.map((p) => eventType(p.resource, p.action)).join(', ')}`,
          );
        }
        await m.getRepository(WebhookSubscription).insert(valid.map((p) => ({ webhookId, ...p })));
        await m.getRepository(Webhook).update({ id: webhookId }, { updatedAt: () => 'now()' });
      })
      .catch((e: unknown) => {
        // A concurrent add of the same pair got there first.
        if (isUniqueViolation(e, 'webhook_subscriptions_unique'))
          throw conflict('webhook is already subscribed to one of these events');
        throw e;
      });
    return this.getOrFail(webhookId);
  }

  async removeSubscriptions(webhookId: string, pairs: SubscriptionPair[]): Promise<Webhook> {
    const valid = validPairs('subscriptions', pairs);
    if (valid.length === 0) throw badInput('subscriptions', 'must list at least one (resource, action) pair');
    await this.ds.transaction(async (m) => {
      const webhook = await this.getOrFail(webhookId, m);
      const missing = valid.filter(
        (p) => !webhook.subscriptions.some((s) => s.resource === p.resource && s.action === p.action),
      );
      if (missing.length) {
        throw new HooklineError(
          'NOT_FOUND',
          `webhook is not subscribed to ${missing.map((p) => eventType(p.resource, p.action)).join(', ')}; nothing was removed`,
        );
      }
      const ids = webhook.subscriptions
        .filter((s) => valid.some((p) => p.resource === s.resource && p.action === s.action))
        .map((s) => s.id);
      await m.getRepository(WebhookSubscription).delete({ id: In(ids) });
      await m.getRepository(Webhook).update({ id: webhookId }, { updatedAt: () => 'now()' });
    });
    return this.getOrFail(webhookId);
  }
}
