import type { AuthChecker } from 'type-graphql';
import { HooklineError } from '../domain/errors.js';
import { can, type Permission } from '../domain/roles.js';
import type { Context } from './context.js';
import type { Actor } from '../domain/audit.js';

// @Authorized('read' | 'publish' | 'configure'), or @Authorized() for any valid key.
// Denials are thrown here so they carry the contract's codes.
export const authChecker: AuthChecker<Context, Permission> = ({ context }, permissions) => {
  const key = context.apiKey;
  if (!key) {
    throw new HooklineError(
      'UNAUTHENTICATED',
      context.authFailure ?? 'a valid API key is required: send "Authorization: Bearer <api key>"',
    );
  }
  if (permissions.length === 0 || permissions.some((p) => can(key.role, p))) return true;
  throw new HooklineError(
    'FORBIDDEN',
    `the ${key.role} role may not do this; it needs a key allowed to ${permissions.join(' or ')}`,
  );
};

/** Who a mutation is done by, for the audit log. */
export function actorOf(context: Context): Actor {
  return { keyId: context.apiKey?.id ?? null, name: context.apiKey?.name ?? 'unknown' };
}
