// The stable error codes of the public API (api-contract.graphql header). Domain
// errors are plain: the GraphQL layer turns them into GraphQL errors at its
// boundary (server/admission/present.ts), the CLI prints their message.
export const CONTRACT_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'INTERNAL_SERVER_ERROR',
] as const;
export type ErrorCode = (typeof CONTRACT_CODES)[number];

export class HooklineError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** For BAD_USER_INPUT: the input path at fault (e.g. "input.destinationUrl"). */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HooklineError';
  }
}

/** Invalid input: `field` is the input path (e.g. "input.destinationUrl"). */
export function badInput(field: string, message: string): HooklineError {
  return new HooklineError('BAD_USER_INPUT', `${field}: ${message}`, field);
}

export function notFound(what: string, id: string): HooklineError {
  return new HooklineError('NOT_FOUND', `${what} ${id} does not exist`);
}

export function conflict(message: string): HooklineError {
  return new HooklineError('CONFLICT', message);
}
