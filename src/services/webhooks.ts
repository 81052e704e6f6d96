import { randomUUID } from 'node:crypto';
import { In, IsNull, type DataSource, type EntityManager } from 'typeorm';
import { fieldChanges, secretChange, type Actor, type AuditRecord } from '../domain/audit.js';
import { eventType, type EventAction, type ResourceType } from '../domain/catalog.js';
import type { Clock } from '../domain/clock.js';
import { HooklineError, badInput, conflict, notFound } from '../domain/errors.js';
import { newSigningKeyPair } from '../domain/signing.js';
import type { DeliveryOrdering, WebhookStatus } from '../domain/statuses.js';
import { newWebhookSecret } from '../domain/tokens.js';
import type { UrlPolicy } from '../domain/url-policy.js';
import {
  isUuid,
  validDestination,
  validName,
  validOverlap,
  validPairs,
  validSecret,
  validSubscriptions,
  samePair,
  type SubscriptionPair,
} from '../domain/validation.js';
import type { FeedPublisher } from '../feed/feed.js';
import { Webhook, WebhookSubscription } from '../storage/entities/index.js';
import { insertAudit } from '../storage/sql/audit.js';
import { clientOf, isUniqueViolation, type Db } from '../storage/sql/db.js';
import { cancelPendingForWebhook } from '../storage/sql/deliveries.js';
import { unparkPaced } from '../storage/sql/pacing.js';
import { applyOrdering } from '../storage/sql/ordering.js';
import { lockWebhook, setWebhookStatus } from '../storage/sql/webhooks.js';
import type { SecretVault } from './secrets.js';
import type { Signals } from '../telemetry/signals.js';

export interface CreateWebhookInput {
  name: string;
  destinationUrl: string;
  bearerToken?: string | null;
  hmacSecret?: string | null;
  generateHmacSecret?: boolean | null;
  generateSigningKey?: boolean | null;
  subscriptions?: SubscriptionInput[] | null;
  ordering?: DeliveryOrdering | null;
}

export type SubscriptionInput = SubscriptionPair & { filter?: Record<string, unknown> | null };

export interface UpdateWebhookInput {
  name?: string | null;
  destinationUrl?: string | null;
  bearerToken?: string | null;
  clearBearerToken?: boolean | null;
  hmacSecret?: string | null;
  clearHmacSecret?: boolean | null;
  ordering?: DeliveryOrdering | null;
}

export interface WebhookPage {
  items: Webhook[];
  hasNextPage: boolean;
  totalCount: number;
}

export type SignatureScheme = 'HMAC_SHA256' | 'ED25519';

export interface RotatedSecret {
  webhook: Webhook;
  /** The new whsec_ secret (HMAC_SHA256), shown only here. */
  secret: string | null;
  /** The new whpk_ public key (ED25519). */
  publicKey: string | null;
  previousSecretExpiresAt: Date | null;
}

export const DEFAULT_OVERLAP_SECONDS = 86_400;

/** Columns an update sets (the subscriptions are rows of their own). */
type WebhookChange = Partial<Omit<Webhook, 'subscriptions'>>;

const MAX_SEARCH_LENGTH = 200;

/** A webhooks search: part of a name or destination URL, any case. */
function validSearch(search: string | null | undefined): string | null {
  if (search == null) return null;
  if (search.length === 0 || search.length > MAX_SEARCH_LENGTH) {
    throw badInput('search', `expected 1 to ${MAX_SEARCH_LENGTH} characters of a name or destination URL`);
  }
  return search;
}

const pairsOf = (w: Webhook) => (w.subscriptions ?? []).map((s) => eventType(s.resource, s.action)).sort();

/** The filters of the subscriptions that have one, by event type: how the audit log shows them. */
function filtersOf(specs: readonly { resource: ResourceType; action: EventAction; filter: unknown }[]) {
  const withFilter = specs.filter((p) => p.filter !== null);
  return withFilter.length
    ? Object.fromEntries(withFilter.map((p) => [eventType(p.resource, p.action), p.filter]))
    : null;
}

export class WebhookService {
  constructor(
    private readonly ds: DataSource,
    private readonly feed: FeedPublisher,
    private readonly urlPolicy: UrlPolicy,
    private readonly vault: SecretVault,
    private readonly clock: Clock,
    private readonly signals: Signals,
    /** A resume releases parked deliveries at most this many a second (HOOKLINE_REPLAY_RATE). */
    private readonly releaseRatePerSecond: number,
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
    filter: { status?: WebhookStatus | null; search?: string | null },
    limit: number,
    after: { createdAt: Date; id: string } | null,
  ): Promise<WebhookPage> {
    const search = validSearch(filter.search);
    const qb = this.ds
      .getRepository(Webhook)
      .createQueryBuilder('w')
      .where('w.deleted_at IS NULL')
      .orderBy('w.created_at', 'DESC')
      .addOrderBy('w.id', 'DESC');
    if (filter.status) qb.andWhere('w.status = :status', { status: filter.status });
    // A scan of the configuration table (thousands of rows, not the delivery log): no index needed.
    if (search !== null) {
      qb.andWhere(`(w.name ILIKE :pattern ESCAPE '\\' OR w.destination_url ILIKE :pattern ESCAPE '\\')`, {
        pattern: `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`,
      });
    }
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('(w.created_at, w.id) < (:at, :id)', { at: after.createdAt, id: after.id });
    const rows = await qb.take(limit + 1).getMany();
    const items = rows.slice(0, limit);
    return { items, hasNextPage: rows.length > limit, totalCount };
  }

  /** The end of a rotation's overlap, while it lasts (the later of the two schemes'). */
  previousSecretExpiresAt(w: Webhook): Date | null {
    const now = this.clock.now();
    const ends = [w.previousHmacExpiresAt, w.previousSigningExpiresAt].filter(
      (d): d is Date => !!d && d.getTime() > now,
    );
    return ends.length ? new Date(Math.max(...ends.map((d) => d.getTime()))) : null;
  }

  /** Runs `change` and writes its audit entry in one transaction. */
  private async audited<T>(
    change: (m: EntityManager, db: Db) => Promise<{ result: T; audit: AuditRecord | null }>,
  ): Promise<T> {
    return this.ds.transaction(async (m) => {
      const db = await clientOf(m);
      const { result, audit } = await change(m, db);
      if (audit) await insertAudit(db, audit);
      return result;
    });
  }

  async create(input: CreateWebhookInput, actor: Actor): Promise<{ webhook: Webhook; generatedSecret: string | null }> {
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
    const specs = validSubscriptions('input.subscriptions', input.subscriptions ?? []);
    const ordering = input.ordering ?? 'NONE';
    const signing = input.generateSigningKey ? newSigningKeyPair() : null;

    // The id is made here: it is part of every sealed secret's additional data.
    const id = randomUUID();
    await this.audited(async (m) => {
      await m.getRepository(Webhook).insert({
        id,
        name,
        destinationUrl,
        bearerToken: this.vault.seal('bearer_token', id, bearerToken),
        hmacSecret: this.vault.seal('hmac_secret', id, hmacSecret),
        signingKey: signing && this.vault.seal('signing_key', id, signing.privateKey),
        signingPublicKey: signing?.publicKey ?? null,
        status: 'ACTIVE',
        statusReason: null,
        ordering,
      });
      if (specs.length) {
        await m.getRepository(WebhookSubscription).insert(specs.map((p) => ({ webhookId: id, ...p })));
      }
      const changes: Record<string, unknown> = {
        name: { new: name },
        destinationUrl: { new: destinationUrl },
        subscriptions: { new: specs.map((p) => eventType(p.resource, p.action)).sort() },
      };
      const filters = filtersOf(specs);
      if (filters) changes.filters = { new: filters };
      if (ordering !== 'NONE') changes.ordering = { new: ordering };
      if (bearerToken !== null) changes.bearerToken = 'set';
      if (hmacSecret !== null) changes.hmacSecret = 'set';
      if (signing) changes.signingKey = 'set';
      return {
        result: undefined,
        audit: { actor, action: 'webhook.created', targetType: 'Webhook', targetId: id, changes },
      };
    });
    return { webhook: await this.getOrFail(id), generatedSecret };
  }

  async update(id: string, input: UpdateWebhookInput, actor: Actor): Promise<Webhook> {
    const next: WebhookChange = {};
    if (input.name != null) next.name = validName('input.name', input.name);
    if (input.destinationUrl != null) {
      next.destinationUrl = validDestination('input.destinationUrl', input.destinationUrl, this.urlPolicy);
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
    const bearer = input.bearerToken != null ? validSecret('input.bearerToken', input.bearerToken, 'bearer') : null;
    const hmac = input.hmacSecret != null ? validSecret('input.hmacSecret', input.hmacSecret, 'hmac') : null;

    if (input.ordering != null) next.ordering = input.ordering;

    await this.audited(async (m, db) => {
      const current = await this.getOrFail(id, m);
      const changes: Record<string, unknown> = fieldChanges(
        { name: current.name, destinationUrl: current.destinationUrl, ordering: current.ordering },
        {
          name: next.name ?? current.name,
          destinationUrl: next.destinationUrl ?? current.destinationUrl,
          ordering: next.ordering ?? current.ordering,
        },
      );
      if (bearer !== null) next.bearerToken = this.vault.seal('bearer_token', id, bearer);
      if (input.clearBearerToken) next.bearerToken = null;
      // Replacing or clearing the HMAC secret takes effect at once: no overlap (rotateWebhookSecret has one).
      if (hmac !== null || input.clearHmacSecret) {
        next.hmacSecret = hmac === null ? null : this.vault.seal('hmac_secret', id, hmac);
        next.previousHmacSecret = null;
        next.previousHmacExpiresAt = null;
      }
      const bearerChange = 'bearerToken' in next ? secretChange(current.bearerToken, next.bearerToken ?? null) : null;
      const hmacChange = 'hmacSecret' in next ? secretChange(current.hmacSecret, next.hmacSecret ?? null) : null;
      if (bearerChange) changes.bearerToken = bearerChange;
      if (hmacChange) changes.hmacSecret = hmacChange;
      if (Object.keys(changes).length === 0) return { result: undefined, audit: null };
      await m.getRepository(Webhook).update({ id, deletedAt: IsNull() }, { ...next, updatedAt: () => 'now()' });
      // Deliveries not yet started follow the new ordering from now on.
      if ('ordering' in changes) await applyOrdering(db, id, next.ordering === 'PER_OBJECT');
      return {
        result: undefined,
        audit: { actor, action: 'webhook.updated', targetType: 'Webhook', targetId: id, changes },
      };
    });
    return this.getOrFail(id);
  }

  /**
   * A new HMAC secret or ED25519 key; the previous one keeps signing beside it
   * until the overlap ends (0: at once). Only one previous is kept: rotating
   * again during an overlap drops the oldest.
   */
  async rotateSecret(
    id: string,
    scheme: SignatureScheme,
    overlapSeconds: number,
    actor: Actor,
  ): Promise<RotatedSecret> {
    const overlap = validOverlap('overlapSeconds', overlapSeconds);
    const until = overlap > 0 ? new Date(this.clock.now() + overlap * 1000) : null;
    let secret: string | null = null;
    let publicKey: string | null = null;
    await this.audited(async (m, db) => {
      if (isUuid(id)) await lockWebhook(db, id);
      const current = await this.getOrFail(id, m);
      const next: WebhookChange = {};
      if (scheme === 'HMAC_SHA256') {
        secret = newWebhookSecret();
        next.hmacSecret = this.vault.seal('hmac_secret', id, secret);
        const previous = current.hmacSecret && until ? this.vault.open('hmac_secret', id, current.hmacSecret) : null;
        next.previousHmacSecret = this.vault.seal('previous_hmac_secret', id, previous);
        next.previousHmacExpiresAt = previous === null ? null : until;
      } else {
        const pair = newSigningKeyPair();
        publicKey = pair.publicKey;
        next.signingKey = this.vault.seal('signing_key', id, pair.privateKey);
        next.signingPublicKey = pair.publicKey;
        const previous = current.signingKey && until ? this.vault.open('signing_key', id, current.signingKey) : null;
        next.previousSigningKey = this.vault.seal('previous_signing_key', id, previous);
        next.previousSigningExpiresAt = previous === null ? null : until;
      }
      await m.getRepository(Webhook).update({ id }, { ...next, updatedAt: () => 'now()' });
      const field = scheme === 'HMAC_SHA256' ? 'hmacSecret' : 'signingKey';
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.secret_rotated',
          targetType: 'Webhook',
          targetId: id,
          changes: { [field]: 'rotated', scheme, overlapSeconds: overlap },
        },
      };
    });
    const webhook = await this.getOrFail(id);
    return { webhook, secret, publicKey, previousSecretExpiresAt: this.previousSecretExpiresAt(webhook) };
  }

  /** Soft delete: the delivery log keeps pointing at the webhook; pending deliveries are cancelled. */
  async delete(id: string, actor: Actor): Promise<boolean> {
    await this.audited(async (m, db) => {
      const current = await this.getOrFail(id, m);
      await m.getRepository(WebhookSubscription).delete({ webhookId: id });
      await m.getRepository(Webhook).update({ id }, { deletedAt: () => 'now()', updatedAt: () => 'now()' });
      const cancelled = await cancelPendingForWebhook(db, id);
      if (cancelled) this.signals.emit('finished', { status: 'CANCELLED', deliveries: cancelled });
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.deleted',
          targetType: 'Webhook',
          targetId: id,
          changes: { name: { old: current.name } },
        },
      };
    });
    return true;
  }

  async pause(id: string, reason: string, actor: Actor): Promise<Webhook> {
    return this.setStatus(id, 'PAUSED', reason, actor);
  }

  /** ACTIVE again, failure history cleared, parked deliveries sent from now on, paced (storage/sql/pacing.ts). */
  async resume(id: string, actor: Actor): Promise<Webhook> {
    return this.setStatus(id, 'ACTIVE', null, actor);
  }

  private async setStatus(id: string, status: WebhookStatus, reason: string | null, actor: Actor): Promise<Webhook> {
    const changed = await this.audited(async (m, db) => {
      const current = await this.getOrFail(id, m);
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
        },
      };
    });
    if (changed) this.feed.webhookStatus({ webhookId: id, status, reason });
    return this.getOrFail(id);
  }

  async addSubscriptions(webhookId: string, subs: SubscriptionInput[], actor: Actor): Promise<Webhook> {
    const valid = validSubscriptions('subscriptions', subs);
    if (valid.length === 0) throw badInput('subscriptions', 'must list at least one (resource, action) pair');
    await this.audited(async (m) => {
      const webhook = await this.getOrFail(webhookId, m);
      const existing = valid.filter((p) => webhook.subscriptions.some((s) => samePair(s, p)));
      if (existing.length) {
        throw conflict(
          `webhook is already subscribed to ${existing.map((p) => eventType(p.resource, p.action)).join(', ')}; a subscription has one filter (combine conditions with $or): to change it, use setWebhookSubscriptions`,
        );
      }
      await m.getRepository(WebhookSubscription).insert(valid.map((p) => ({ webhookId, ...p })));
      await m.getRepository(Webhook).update({ id: webhookId }, { updatedAt: () => 'now()' });
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.subscriptions_added',
          targetType: 'Webhook',
          targetId: webhookId,
          changes: {
            subscriptions: { old: pairsOf(webhook), added: valid.map((p) => eventType(p.resource, p.action)) },
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
    return this.getOrFail(webhookId);
  }

  /**
   * The whole set at once, in one transaction: pairs added, pairs removed and
   * filters changed together, so a changed filter never leaves a moment in
   * which the webhook is not subscribed (remove-then-add would drop the events
   * published in between).
   */
  async setSubscriptions(webhookId: string, subs: SubscriptionInput[], actor: Actor): Promise<Webhook> {
    const wanted = validSubscriptions('subscriptions', subs);
    await this.audited(async (m) => {
      const webhook = await this.getOrFail(webhookId, m);
      const removed = webhook.subscriptions.filter((s) => !wanted.some((p) => samePair(p, s)));
      const added = wanted.filter((p) => !webhook.subscriptions.some((s) => samePair(p, s)));
      const refiltered = webhook.subscriptions.flatMap((s) => {
        const p = wanted.find((w) => samePair(w, s));
        return p && JSON.stringify(p.filter) !== JSON.stringify(s.filter) ? [{ id: s.id, spec: p }] : [];
      });
      if (removed.length + added.length + refiltered.length === 0) return { result: undefined, audit: null };
      const repo = m.getRepository(WebhookSubscription);
      if (removed.length) await repo.delete({ id: In(removed.map((s) => s.id)) });
      if (added.length) await repo.insert(added.map((p) => ({ webhookId, ...p })));
      for (const { id, spec } of refiltered)
        await repo.update({ id }, { filter: spec.filter, filterPath: spec.filterPath, filterTerms: spec.filterTerms });
      await m.getRepository(Webhook).update({ id: webhookId }, { updatedAt: () => 'now()' });
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.subscriptions_set',
          targetType: 'Webhook',
          targetId: webhookId,
          changes: {
            subscriptions: { old: pairsOf(webhook), new: wanted.map((p) => eventType(p.resource, p.action)).sort() },
            ...(filtersOf(webhook.subscriptions) || filtersOf(wanted)
              ? { filters: { old: filtersOf(webhook.subscriptions), new: filtersOf(wanted) } }
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
    return this.getOrFail(webhookId);
  }

  async removeSubscriptions(webhookId: string, subs: SubscriptionInput[], actor: Actor): Promise<Webhook> {
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
    await this.audited(async (m) => {
      const webhook = await this.getOrFail(webhookId, m);
      const missing = valid.filter((p) => !webhook.subscriptions.some((s) => samePair(s, p)));
      if (missing.length) {
        throw new HooklineError(
          'NOT_FOUND',
          `webhook is not subscribed to ${missing.map((p) => eventType(p.resource, p.action)).join(', ')}; nothing was removed`,
        );
      }
      const ids = webhook.subscriptions.filter((s) => valid.some((p) => samePair(p, s))).map((s) => s.id);
      await m.getRepository(WebhookSubscription).delete({ id: In(ids) });
      await m.getRepository(Webhook).update({ id: webhookId }, { updatedAt: () => 'now()' });
      return {
        result: undefined,
        audit: {
          actor,
          action: 'webhook.subscriptions_removed',
          targetType: 'Webhook',
          targetId: webhookId,
          changes: {
            subscriptions: { old: pairsOf(webhook), removed: valid.map((p) => eventType(p.resource, p.action)) },
          },
        },
      };
    });
    return this.getOrFail(webhookId);
  }
}
