import { GraphQLError } from 'graphql';

// The stable error codes of the public API (api-contract.graphql header).
export type ErrorCode =
  'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'INTERNAL_SERVER_ERROR';

export class HooklineError extends GraphQLError {
  constructor(code: ErrorCode, message: string, extra: Record<string, unknown> = {}) {
    super(message, { extensions: { code, ...extra } });
  }
}

/** Invalid input: `field` is the input path (e.g. "input.destinationUrl"). */
export function badInput(field: string, message: string): HooklineError {
  return new HooklineError('BAD_USER_INPUT', `${field}: ${message}`, { field });
}

export function notFound(what: string, id: string): HooklineError {
  return new HooklineError('NOT_FOUND', `${what} ${id} does not exist`);
}

export function conflict(message: string): HooklineError {
  return new HooklineError('CONFLICT', message);
}
