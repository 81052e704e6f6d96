import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { HooklineError } from '../domain/errors.js';
import type { Logger } from '../logger.js';

// What clients see of an error: our own errors as they are; malformed requests
// as BAD_USER_INPUT (the contract's code for "your request is wrong"); anything
// else as INTERNAL_SERVER_ERROR with no internals, logged here in full.

const REQUEST_ERRORS = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'PERSISTED_QUERY_NOT_FOUND',
]);

export function formatError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof HooklineError) {
      // extensions.http sets the response status; it is not for the client.
      const { http: _status, ...extensions } = original.extensions;
      return { message: original.message, path: formatted.path, locations: formatted.locations, extensions };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && REQUEST_ERRORS.has(code)) {
      return {
        message: formatted.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'BAD_USER_INPUT' },
      };
    }
    log.error({ err: original, path: formatted.path }, 'unexpected error');
    return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

export function errorBody(code: string, message: string) {
  return { errors: [{ message, extensions: { code } }] };
}
