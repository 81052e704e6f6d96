import type { Context } from './context.js';
import type { Actor } from '../domain/audit.js';

/** Who a mutation is done by, for the audit log. */
export function actorOf(context: Context): Actor {
  return { keyId: context.apiKey?.id ?? null, name: context.apiKey?.name ?? 'unknown' };
}
