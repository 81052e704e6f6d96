import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { DEFAULT_ACCOUNT_ID, DEFAULT_ACCOUNT_KEY, validAccountKey, type Scope } from '../domain/accounts.js';
import type { Actor } from '../domain/audit.js';
import type { Position } from '../domain/cursor.js';
import { badInput, conflict, HooklineError, notFound } from '../domain/errors.js';
import { containing, isUuid, validName, validSearch } from '../domain/validation.js';
import { Account } from '../storage/entities/index.js';
import {
  accountForChange,
  ensureAccounts,
  insertAccount,
  liveAccountByKey,
  markAccountDeleted,
  renameAccount,
} from '../storage/sql/accounts.js';
import { insertAudit } from '../storage/sql/audit.js';
import { inTransaction, isUniqueViolation } from '../storage/sql/db.js';
import type { Page } from './deliveries.js';

// Accounts: the platform's customers. Publishers name an account by its key
// (the platform's own id for the customer); the directory maps keys to ids,
// creating an account for a key none has yet, and caches what it found: every
// publish names one, and the publishing statement checks again that the
// account is live (storage/sql/events.ts), so a cached id of an account
// deleted since is caught there, not trusted.

const CACHE_LIMIT = 100_000;

/** Account keys to ids, for publishing. */
export class AccountDirectory {
  private readonly ids = new Map<string, string>([[DEFAULT_ACCOUNT_KEY, DEFAULT_ACCOUNT_ID]]);

  constructor(private readonly pool: pg.Pool) {}

  /** The ids of the live accounts of these keys, creating those none has yet (named after their key). */
  async idsOf(keys: readonly string[]): Promise<Map<string, string>> {
    const missing = [...new Set(keys.filter((k) => !this.ids.has(k)))];
    if (missing.length) {
      if (this.ids.size + missing.length > CACHE_LIMIT) this.ids.clear();
      for (const a of await ensureAccounts(this.pool, missing)) this.ids.set(a.key, a.id);
      this.ids.set(DEFAULT_ACCOUNT_KEY, DEFAULT_ACCOUNT_ID);
    }
    return new Map(keys.map((k) => [k, this.ids.get(k)!]));
  }

  /** The id of the live account with this key, or null; creates nothing. */
  async idOfExisting(key: string): Promise<string | null> {
    return this.ids.get(key) ?? (await liveAccountByKey(this.pool, key));
  }

  /** The account of `key` was deleted: the next publish looks it up (and creates it) again. */
  forgetKey(key: string): void {
    this.ids.delete(key);
  }
}

export class AccountService {
  constructor(
    /** For reads only: every change is a transaction on the pool. */
    private readonly reads: DataSource,
    private readonly pool: pg.Pool,
    private readonly directory: AccountDirectory,
  ) {}

  async page(scope: Scope, search: string | null | undefined, limit: number, after: Position | null) {
    const text = validSearch(search, "an account's key or name");
    const qb = this.reads
      .getRepository(Account)
      .createQueryBuilder('a')
      .where('a.deleted_at IS NULL')
      .orderBy('a.created_at', 'DESC')
      .addOrderBy('a.id', 'DESC');
    if (scope.accountId !== null) qb.andWhere('a.id = :own', { own: scope.accountId });
    if (text !== null) {
      qb.andWhere(`(a.key ILIKE :pattern ESCAPE '\\' OR a.name ILIKE :pattern ESCAPE '\\')`, {
        pattern: containing(text),
      });
    }
    const totalCount = await qb.clone().getCount();
    if (after) qb.andWhere('(a.created_at, a.id) < (:at, :id)', { at: after.createdAt, id: after.id });
    const rows = await qb.take(limit + 1).getMany();
    const result: Page<Account> & { totalCount: number } = {
      items: rows.slice(0, limit),
      hasNextPage: rows.length > limit,
      totalCount,
    };
    return result;
  }

  /** By id or by key; null when it does not exist, is deleted, or is not the scoped caller's. */
  async get(scope: Scope, by: { id?: string | null; key?: string | null }): Promise<Account | null> {
    if ((by.id == null) === (by.key == null)) throw badInput('id', 'give exactly one of id and key');
    if (by.id != null && !isUuid(by.id)) return null;
    const qb = this.reads.getRepository(Account).createQueryBuilder('a').where('a.deleted_at IS NULL');
    if (by.id != null) qb.andWhere('a.id = :id', { id: by.id });
    else qb.andWhere('a.key = :key', { key: by.key });
    if (scope.accountId !== null) qb.andWhere('a.id = :own', { own: scope.accountId });
    return qb.getOne();
  }

  /** Accounts as the scope sees them, deleted ones left out (the loader of Webhook.account and the like). */
  byIds(scope: Scope, ids: readonly string[]): Promise<Account[]> {
    const qb = this.reads
      .getRepository(Account)
      .createQueryBuilder('a')
      .where('a.id IN (:...ids) AND a.deleted_at IS NULL', { ids });
    if (scope.accountId !== null) qb.andWhere('a.id = :own', { own: scope.accountId });
    return qb.getMany();
  }

  async create(input: { key: string; name: string }, actor: Actor): Promise<Account> {
    const key = validAccountKey('input.key', input.key);
    const name = validName('input.name', input.name);
    const id = await inTransaction(this.pool, async (db) => {
      const id = await insertAccount(db, key, name);
      await insertAudit(db, {
        actor,
        action: 'account.created',
        targetType: 'Account',
        targetId: id,
        changes: { key: { new: key }, name: { new: name } },
        accountId: null,
      });
      return id;
    }).catch((e: unknown) => {
      if (isUniqueViolation(e, 'accounts_key')) throw conflict(`input.key: an account with key ${key} exists already`);
      throw e;
    });
    return this.reads.getRepository(Account).findOneByOrFail({ id });
  }

  async update(id: string, input: { name?: string | null }, actor: Actor): Promise<Account> {
    const name = input.name == null ? null : validName('input.name', input.name);
    await inTransaction(this.pool, async (db) => {
      const current = isUuid(id) ? await accountForChange(db, id) : null;
      if (!current) throw notFound('account', id);
      if (name === null || name === current.name) return;
      await renameAccount(db, id, name);
      await insertAudit(db, {
        actor,
        action: 'account.updated',
        targetType: 'Account',
        targetId: id,
        changes: { name: { old: current.name, new: name } },
        accountId: null,
      });
    });
    return this.reads.getRepository(Account).findOneByOrFail({ id });
  }

  /**
   * Everything of the account vanishes from every read at once, its keys stop
   * working at once (storage/sql/accounts.ts); maintenance removes the rows.
   */
  async delete(id: string, confirmKey: string, actor: Actor): Promise<boolean> {
    await inTransaction(this.pool, async (db): Promise<string> => {
      const current = isUuid(id) ? await accountForChange(db, id) : null;
      if (!current) throw notFound('account', id);
      if (current.key === DEFAULT_ACCOUNT_KEY) {
        throw new HooklineError('FORBIDDEN', 'the default account cannot be deleted');
      }
      if (confirmKey !== current.key) {
        throw badInput('confirmKey', "must equal the account's key, to confirm which account is deleted");
      }
      const hidden = await markAccountDeleted(db, id);
      await insertAudit(db, {
        actor,
        action: 'account.deleted',
        targetType: 'Account',
        targetId: id,
        changes: { key: { old: current.key }, name: { old: current.name }, ...hidden },
        accountId: null,
      });
      return current.key;
    }).then((key) => this.directory.forgetKey(key));
    return true;
  }
}
