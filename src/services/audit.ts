import type { DataSource } from 'typeorm';
import type { Position } from '../domain/cursor.js';
import { isUuid } from '../domain/validation.js';
import { AuditEntry } from '../storage/entities/index.js';
import type { Page } from './deliveries.js';
import type { Scope } from '../domain/accounts.js';
import { visible } from './visibility.js';

// Reading the audit log, newest first, keyset-paged; each filter has its index
// (audit_log_target, audit_log_action; audit_log_page without one; a scoped
// caller's through audit_log_account).
export class AuditLog {
  constructor(private readonly reads: DataSource) {}

  async page(
    scope: Scope,
    filter: { targetId?: string | null; action?: string | null },
    limit: number,
    after: Position | null,
  ): Promise<Page<AuditEntry & { createdAt: Date }>> {
    if (filter.targetId && !isUuid(filter.targetId)) return { items: [], hasNextPage: false };
    const qb = visible(this.reads.getRepository(AuditEntry).createQueryBuilder('a').where('true'), 'a', scope);
    if (filter.targetId) qb.andWhere('a.target_id = :t', { t: filter.targetId });
    if (filter.action) qb.andWhere('a.action = :a', { a: filter.action });
    if (after) qb.andWhere('(a.at, a.id) < (:at, :id)', { at: after.createdAt, id: after.id });
    const rows = await qb
      .orderBy('a.at', 'DESC')
      .addOrderBy('a.id', 'DESC')
      .take(limit + 1)
      .getMany();
    // Paging positions are (createdAt, id) for every list; an entry's is its time.
    const items = rows.slice(0, limit).map((r) => Object.assign(r, { createdAt: r.at }));
    return { items, hasNextPage: rows.length > limit };
  }
}
