import { type DataSource, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import type { EventAction, ResourceType } from '../domain/catalog.js';
import type { Position } from '../domain/cursor.js';
import type { DeliveryStatus } from '../domain/statuses.js';
import { isUuid, validObjectId } from '../domain/validation.js';
import { Delivery, DeliveryAttempt, Event } from '../storage/entities/index.js';
import type { Scope } from '../domain/accounts.js';
import { visible, visibleThroughWebhook } from './visibility.js';

// Reads of the event and delivery log, newest first, keyset-paged.

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
}

async function page<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  limit: number,
  after: Position | null,
): Promise<Page<T>> {
  if (after) qb.andWhere(`(${alias}.created_at, ${alias}.id) < (:at, :id)`, { at: after.createdAt, id: after.id });
  const rows = await qb
    .orderBy(`${alias}.created_at`, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    // limit, not take: with a join (deliveries by object) take() sends a DISTINCT query and a second one.
    .limit(limit + 1)
    .getMany();
  return { items: rows.slice(0, limit), hasNextPage: rows.length > limit };
}

export interface DeliveryFilter {
  webhookId?: string | null;
  eventId?: string | null;
  status?: DeliveryStatus | null;
  objectId?: string | null;
  resource?: ResourceType | null;
  action?: EventAction | null;
}

export interface EventFilter {
  resource?: ResourceType | null;
  action?: EventAction | null;
  objectId?: string | null;
}

/**
 * An account's deliveries newest first, without naming a webhook: the page is
 * made from each of the account's webhooks' newest matching deliveries
 * (deliveries_webhook_page, limit + 1 each), so what it costs depends on the
 * account's own webhooks and deliveries only. Walking every account's
 * deliveries newest first and keeping the account's would cost, for a small
 * customer beside a large one, a walk past the large one's history.
 */
function newestOfEachWebhook(
  qb: SelectQueryBuilder<Delivery>,
  accountId: string,
  f: DeliveryFilter,
  limit: number,
  after: Position | null,
): void {
  const conditions = [
    'n.webhook_id = w.id',
    ...(f.status ? ['n.status = :status'] : []),
    ...(f.resource ? ['ne.resource = :resource'] : []),
    ...(f.action ? ['ne.action = :action'] : []),
    ...(after ? ['(n.created_at, n.id) < (:at, :id)'] : []),
  ];
  const events = f.resource || f.action ? 'JOIN events ne ON ne.id = n.event_id' : '';
  qb.andWhere(
    `d.id IN (SELECT x.id FROM webhooks w CROSS JOIN LATERAL (
       SELECT n.id, n.created_at FROM deliveries n ${events} WHERE ${conditions.join(' AND ')}
       ORDER BY n.created_at DESC, n.id DESC LIMIT :perWebhook) x
     WHERE w.account_id = :ownAccount ORDER BY x.created_at DESC, x.id DESC LIMIT :perWebhook)`,
    { ownAccount: accountId, perWebhook: limit + 1 },
  );
}

export class DeliveryQueries {
  constructor(private readonly reads: DataSource) {}

  event(scope: Scope, id: string): Promise<Event | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    return visible(
      this.reads.getRepository(Event).createQueryBuilder('e').where('e.id = :id', { id }),
      'e',
      scope,
    ).getOne();
  }

  delivery(scope: Scope, id: string): Promise<Delivery | null> {
    if (!isUuid(id)) return Promise.resolve(null);
    const qb = this.reads.getRepository(Delivery).createQueryBuilder('d').where('d.id = :id', { id });
    return visibleThroughWebhook(qb, 'd', scope).getOne();
  }

  eventsByIds(scope: Scope, ids: readonly string[]): Promise<Event[]> {
    const qb = this.reads.getRepository(Event).createQueryBuilder('e').where('e.id IN (:...ids)', { ids });
    return visible(qb, 'e', scope).getMany();
  }

  ofEvents(scope: Scope, eventIds: readonly string[]): Promise<Delivery[]> {
    const qb = this.reads
      .getRepository(Delivery)
      .createQueryBuilder('d')
      .where('d.event_id IN (:...eventIds)', { eventIds })
      .orderBy('d.created_at', 'ASC')
      .addOrderBy('d.id', 'ASC');
    return visibleThroughWebhook(qb, 'd', scope).getMany();
  }

  attemptsOf(scope: Scope, deliveryIds: readonly string[]): Promise<DeliveryAttempt[]> {
    const qb = this.reads
      .getRepository(DeliveryAttempt)
      .createQueryBuilder('a')
      .where('a.delivery_id IN (:...deliveryIds)', { deliveryIds })
      .orderBy('a.attempt_number', 'ASC');
    return visibleThroughWebhook(qb, 'a', scope).getMany();
  }

  // By object: through events_object ((payload ->> 'id'), resource, created_at DESC, id DESC); a scoped
  // caller's through events_account_page.
  events(scope: Scope, f: EventFilter, limit: number, after: Position | null): Promise<Page<Event>> {
    const objectId = validObjectId(f.objectId);
    const qb = visible(this.reads.getRepository(Event).createQueryBuilder('e').where('true'), 'e', scope);
    if (objectId !== null) qb.andWhere(`(e.payload ->> 'id') = :objectId`, { objectId });
    if (f.resource) qb.andWhere('e.resource = :resource', { resource: f.resource });
    if (f.action) qb.andWhere('e.action = :action', { action: f.action });
    return page(qb, 'e', limit, after);
  }

  async deliveries(scope: Scope, f: DeliveryFilter, limit: number, after: Position | null): Promise<Page<Delivery>> {
    if ((f.webhookId && !isUuid(f.webhookId)) || (f.eventId && !isUuid(f.eventId)))
      return { items: [], hasNextPage: false };
    const objectId = validObjectId(f.objectId);
    const qb = visibleThroughWebhook(
      this.reads.getRepository(Delivery).createQueryBuilder('d').where('true'),
      'd',
      scope,
    );
    // Every delivery about the object, to every webhook: its events through events_object, then theirs.
    // By event type alone the walk is deliveries newest first, each event by its key, until a page is full.
    if (objectId !== null || f.resource || f.action) qb.innerJoin(Event, 'e', 'e.id = d.event_id');
    if (objectId !== null) qb.andWhere(`(e.payload ->> 'id') = :objectId`, { objectId });
    if (f.resource) qb.andWhere('e.resource = :resource', { resource: f.resource });
    if (f.action) qb.andWhere('e.action = :action', { action: f.action });
    if (f.webhookId) qb.andWhere('d.webhook_id = :webhookId', { webhookId: f.webhookId });
    if (f.eventId) qb.andWhere('d.event_id = :eventId', { eventId: f.eventId });
    if (f.status) qb.andWhere('d.status = :status', { status: f.status });
    if (scope.accountId !== null && !f.webhookId && !f.eventId && objectId === null)
      newestOfEachWebhook(qb, scope.accountId, f, limit, after);
    return page(qb, 'd', limit, after);
  }
}
