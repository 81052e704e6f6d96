import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import type { Scope } from '../domain/accounts.js';

// What a read may return, added to every query of the ORM's reads: the rows
// of the caller's account (a scoped key), or of every account not deleted (an
// unscoped key). A deleted account's rows stay until maintenance purges them
// (storage/sql/accounts.ts) and are left out from the moment it is deleted.
// The deleted accounts are few and indexed (accounts_deleted): the NOT IN is
// one hashed set per statement.

const DELETED_ACCOUNTS = 'SELECT id FROM accounts WHERE deleted_at IS NOT NULL';

/**
 * Rows of `alias`, which has an account_id column, that the scope sees. A row
 * without an account (an unscoped key, a platform-wide audit entry) is the
 * platform's own: only unscoped callers see it.
 */
export function visible<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  scope: Scope,
): SelectQueryBuilder<T> {
  return scope.accountId === null
    ? qb.andWhere(`(${alias}.account_id IS NULL OR ${alias}.account_id NOT IN (${DELETED_ACCOUNTS}))`)
    : qb.andWhere(`${alias}.account_id = :scopeAccount`, { scopeAccount: scope.accountId });
}

/** Rows of `alias` (a delivery: the account is its webhook's) that the scope sees. */
export function visibleThroughWebhook<T extends ObjectLiteral>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  scope: Scope,
): SelectQueryBuilder<T> {
  return scope.accountId === null
    ? qb.andWhere(`${alias}.webhook_id NOT IN (SELECT id FROM webhooks WHERE account_id IN (${DELETED_ACCOUNTS}))`)
    : qb.andWhere(`${alias}.webhook_id IN (SELECT id FROM webhooks WHERE account_id = :scopeAccount)`, {
        scopeAccount: scope.accountId,
      });
}
