import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { HooklineError } from '../../domain/errors.js';
import type { Logger } from '../../logger.js';
import { Redactor } from './redact.js';

// What a client sees of an error, on every transport: our own errors with
// their code (and field); a malformed request as BAD_USER_INPUT (the
// contract's code for "your request is wrong"); anything else as
// INTERNAL_SERVER_ERROR with a generic message and the request id, the cause
// going to the log under that id. Messages pass through the request's Redactor.

// Codes graphql-js and Apollo give requests refused before execution.
const REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'PERSISTED_QUERY_NOT_FOUND',
]);

export interface Scope {
  requestId: string;
  redactor: Redactor;
  /** Set once the request's operation line is written (HTTP): it replaces the request line. */
  logged?: boolean;
}

export function extensionsOf(e: HooklineError): Record<string, unknown> {
  return e.field === undefined ? { code: e.code } : { code: e.code, field: e.field };
}

/** True for an error that is the request's fault: refused before execution, or one of ours. */
export function isClientError(error: unknown): boolean {
  const original = unwrapResolverError(error);
  if (original instanceof HooklineError) return original.code !== 'INTERNAL_SERVER_ERROR';
  if (!(original instanceof GraphQLError)) return false;
  const code = original.extensions?.code;
  return typeof code === 'string' ? REQUEST_CODES.has(code) : original.originalError === undefined;
}

export function present(error: unknown, scope: Scope, log: Logger): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const located = error instanceof GraphQLError ? error : null;
  const where = {
    ...(located?.path ? { path: located.path } : {}),
    ...(located?.locations ? { locations: located.locations } : {}),
  };
  if (original instanceof HooklineError && original.code !== 'INTERNAL_SERVER_ERROR') {
    return { message: scope.redactor.message(original.message), ...where, extensions: extensionsOf(original) };
  }
  if (isClientError(original)) {
    const field = (original as GraphQLError).extensions?.field;
    return {
      message: scope.redactor.message((original as GraphQLError).message),
      ...where,
      extensions: typeof field === 'string' ? { code: 'BAD_USER_INPUT', field } : { code: 'BAD_USER_INPUT' },
    };
  }
  const cause = original instanceof Error ? original : new Error(String(original));
  log.error(
    {
      requestId: scope.requestId,
      path: located?.path,
      err: {
        type: cause.name,
        message: scope.redactor.message(cause.message),
        stack: cause.stack && scope.redactor.message(cause.stack),
      },
    },
    'unexpected error',
  );
  return {
    message: 'Internal server error',
    ...(located?.path ? { path: located.path } : {}),
    extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: scope.requestId },
  };
}
