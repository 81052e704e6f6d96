import { In, type DataSource, type ObjectLiteral, type SelectQueryBuilder } from 'typeorm';
import type { EventAction, ResourceType } from '../domain/catalog.js';
import type { Position } from '../domain/cursor.js';
import type { DeliveryStatus } from '../domain/statuses.js';
import { badInput } from '../domain/errors.js';
import { isUuid } from '../domain/validation.js';
import { Delivery, DeliveryAttempt, Event } from '../storage/entities/index.js';

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

const MAX_OBJECT_ID_LENGTH = 255;

/** An object id argument: the payload's id as text ("42"), as Event.objectId shows it. */
function validObjectId(objectId: string | null | undefined): string | null {
  if (objectId == null) return null;
  if (objectId.length === 0 || objectId.length > MAX_OBJECT_ID_LENGTH) {
    throw badInput('objectId', `expected 1 to ${MAX_OBJECT_ID_LENGTH} characters (the payload's id, e.g. "42")`);
  }
  return objectId;
}

export class DeliveryQueries {
  constructor(private readonly reads: DataSource) {}

  event(id: string): Promise<Event | null> {
    return isUuid(id) ? this.reads.getRepository(Event).findOneBy({ id }) : Promise.resolve(null);
  }

  delivery(id: string): Promise<Delivery | null> {
    return isUuid(id) ? this.reads.getRepository(Delivery).findOneBy({ id }) : Promise.resolve(null);
  }

  eventsByIds(ids: readonly string[]): Promise<Event[]> {
    return this.reads.getRepository(Event).findBy({ id: In([...ids]) });
  }

  ofEvents(eventIds: readonly string[]): Promise<Delivery[]> {
    return this.reads
      .getRepository(Delivery)
      .find({ where: { eventId: In([...eventIds]) }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  attemptsOf(deliveryIds: readonly string[]): Promise<DeliveryAttempt[]> {
    return this.reads
      .getRepository(DeliveryAttempt)
      .find({ where: { deliveryId: In([...deliveryIds]) }, order: { attemptNumber: 'ASC' } });
  }

  // By object: through events_object ((payload ->> 'id'), resource, created_at DESC, id DESC).
  events(f: EventFilter, limit: number, after: Position | null): Promise<Page<Event>> {
    const objectId = validObjectId(f.objectId);
    const qb = this.reads.getRepository(Event).createQueryBuilder('e').where('true');
    if (objectId !== null) qb.andWhere(`(e.payload ->> 'id') = :objectId`, { objectId });
    if (f.resource) qb.andWhere('e.resource = :resource', { resource: f.resource });
    if (f.action) qb.andWhere('e.action = :action', { action: f.action });
    return page(qb, 'e', limit, after);
  }

  async deliveries(f: DeliveryFilter, limit: number, after: Position | null): Promise<Page<Delivery>> {
    if ((f.webhookId && !isUuid(f.webhookId)) || (f.eventId && !isUuid(f.eventId)))
      return { items: [], hasNextPage: false };
    const objectId = validObjectId(f.objectId);
    const qb = this.reads.getRepository(Delivery).createQueryBuilder('d').where('true');
    // Every delivery about the object, to every webhook: its events through events_object, then theirs.
    // By event type alone the walk is deliveries newest first, each event by its key, until a page is full.
    if (objectId !== null || f.resource || f.action) qb.innerJoin(Event, 'e', 'e.id = d.event_id');
    if (objectId !== null) qb.andWhere(`(e.payload ->> 'id') = :objectId`, { objectId });
    if (f.resource) qb.andWhere('e.resource = :resource', { resource: f.resource });
    if (f.action) qb.andWhere('e.action = :action', { action: f.action });
    if (f.webhookId) qb.andWhere('d.webhook_id = :webhookId', { webhookId: f.webhookId });
    if (f.eventId) qb.andWhere('d.event_id = :eventId', { eventId: f.eventId });
    if (f.status) qb.andWhere('d.status = :status', { status: f.status });
    return page(qb, 'd', limit, after);
  }
}
