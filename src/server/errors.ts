import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { HooklineError } from '../domain/errors.js';
import type { Logger } from '../logger.js';

// The GraphQL boundary for errors. What clients see: our own errors with their
// code (and field); malformed requests as BAD_USER_INPUT (the contract's code
// for "your request is wrong"); anything else as INTERNAL_SERVER_ERROR with
// no internals, logged here in full.

const REQUEST_ERRORS = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'PERSISTED_QUERY_NOT_FOUND',
]);

export function extensionsOf(e: HooklineError): Record<string, unknown> {
  return e.field === undefined ? { code: e.code } : { code: e.code, field: e.field };
}

/** A refusal before execution (a plugin or validation rule): Apollo answers it with HTTP 400. */
export function requestRefusal(e: HooklineError): GraphQLError {
  return new GraphQLError(e.message, { extensions: { ...extensionsOf(e), http: { status: 400 } } });
}

export function formatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof HooklineError) {
      return {
        message: original.message,
        path: formatted.path,
        locations: formatted.locations,
        extensions: extensionsOf(original),
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && REQUEST_ERRORS.has(code)) {
      const field = formatted.extensions?.field;
      return {
        message: formatted.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: typeof field === 'string' ? { code: 'BAD_USER_INPUT', field } : { code: 'BAD_USER_INPUT' },
      };
    }
    log.error({ err: original, path: formatted.path }, 'unexpected error');
    return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

export function errorBody(code: string, message: string) {
  return { errors: [{ message, extensions: { code } }] };
}
