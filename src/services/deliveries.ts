import type { DataSource, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import type { EventAction, ResourceType } from '../domain/catalog.js';
import type { Position } from '../domain/cursor.js';
import type { DeliveryStatus } from '../domain/statuses.js';
import { isUuid } from '../domain/validation.js';
import { Delivery, Event } from '../storage/entities/index.js';

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
    .take(limit + 1)
    .getMany();
  return { items: rows.slice(0, limit), hasNextPage: rows.length > limit };
}

export interface DeliveryFilter {
  webhookId?: string | null;
  eventId?: string | null;
  status?: DeliveryStatus | null;
}

export class DeliveryQueries {
  constructor(private readonly ds: DataSource) {}

  event(id: string): Promise<Event | null> {
    return isUuid(id) ? this.ds.getRepository(Event).findOneBy({ id }) : Promise.resolve(null);
  }

  delivery(id: string): Promise<Delivery | null> {
    return isUuid(id) ? this.ds.getRepository(Delivery).findOneBy({ id }) : Promise.resolve(null);
  }

  events(
    resource: ResourceType | null,
    action: EventAction | null,
    limit: number,
    after: Position | null,
  ): Promise<Page<Event>> {
    const qb = this.ds.getRepository(Event).createQueryBuilder('e').where('true');
    if (resource) qb.andWhere('e.resource = :resource', { resource });
    if (action) qb.andWhere('e.action = :action', { action });
    return page(qb, 'e', limit, after);
  }

  async deliveries(f: DeliveryFilter, limit: number, after: Position | null): Promise<Page<Delivery>> {
    if ((f.webhookId && !isUuid(f.webhookId)) || (f.eventId && !isUuid(f.eventId)))
      return { items: [], hasNextPage: false };
    const qb = this.ds.getRepository(Delivery).createQueryBuilder('d').where('true');
    if (f.webhookId) qb.andWhere('d.webhook_id = :webhookId', { webhookId: f.webhookId });
    if (f.eventId) qb.andWhere('d.event_id = :eventId', { eventId: f.eventId });
    if (f.status) qb.andWhere('d.status = :status', { status: f.status });
    return page(qb, 'd', limit, after);
  }
}
