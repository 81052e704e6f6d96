import { badInput, HooklineError } from './errors.js';

// Accounts: one installation serving many customers of the platform. A
// caller's Scope is what it may see and change: one account (a key scoped to
// it) or every live account (an unscoped key, the platform's own staff).
// Every read and every lookup by id takes the caller's scope, so a row of
// another account is found by the same statement as a row that does not
// exist, and answered the same way (null, NOT_FOUND): no existence oracle.

/** The account "default": what existed before accounts, and every caller that never names one. */
export const DEFAULT_ACCOUNT_ID = '00000000-0000-4000-8000-000000000001';
export const DEFAULT_ACCOUNT_KEY = 'default';

/** Matches no account: the scope of a scoped caller that names another account in a list's filter. */
const NO_ACCOUNT = '00000000-0000-4000-8000-000000000000';

export interface Scope {
  /** null: every live account. */
  readonly accountId: string | null;
}

export const EVERY_ACCOUNT: Scope = { accountId: null };

/** The scope of a caller holding a key scoped to `accountId` (null: unscoped). */
export function scopeOf(key: { accountId: string | null } | null): Scope {
  return key?.accountId ? { accountId: key.accountId } : EVERY_ACCOUNT;
}

/**
 * A list's `accountId` filter within the caller's scope: an unscoped caller
 * sees the named account; a scoped one sees its own, and nothing when it names
 * another (lists simply leave other accounts out).
 */
export function narrowed(scope: Scope, accountId: string | null | undefined): Scope {
  if (accountId == null) return scope;
  if (scope.accountId === null || scope.accountId === accountId) return { accountId };
  return { accountId: NO_ACCOUNT };
}

/**
 * The account a new webhook or key goes into: the caller's own for a scoped
 * key (naming another is `refusal`'s error), else the named one, else the default.
 */
export function targetAccount(
  scope: Scope,
  accountId: string | null | undefined,
  refusal: () => HooklineError,
): string {
  if (scope.accountId !== null) {
    if (accountId != null && accountId !== scope.accountId) throw refusal();
    return scope.accountId;
  }
  return accountId ?? DEFAULT_ACCOUNT_ID;
}

export const ACCOUNT_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** An account key: the platform's own id for the customer (e.g. Bridge's domain id). */
export function validAccountKey(field: string, key: string): string {
  if (!ACCOUNT_KEY_PATTERN.test(key)) {
    throw badInput(field, "expected 1 to 128 characters of A-Z a-z 0-9 . _ : - (the platform's id for the customer)");
  }
  return key;
}
