import type { Response } from 'express';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from '../logger.js';
import { present, type Scope } from './admission/present.js';
import { Redactor } from './admission/redact.js';

// The HTTP request an error belongs to (its id, its redactor), without
// AsyncLocalStorage. Apollo's formatError is not told the request, so it only
// marks each error with its cause (deferred); the response plugin, which has
// the request's context, presents them (settle), and what Apollo answers
// outside its pipeline (a request it refuses before any plugin runs) is
// presented when the body is written. An AsyncLocalStorage made every promise
// of the process pay its hooks, the worker's too: 130 ms of a publishing
// server's 4,680 (bench/compare.ts with PROF=1, 5,000 publishes), the largest
// cost it had beside the release it was compared with. Without it
// (`node dist/bench/compare.js da52644 --rounds 5`), against da52644: publish
// 0.913 -> 0.962, drain 0.863 -> 0.893.

const CAUSE = Symbol('cause');

type Deferred = GraphQLFormattedError & { [CAUSE]?: unknown };

/** For an error outside any request this module knows; a new one each time, since scopes are written to. */
export const unknownScope = (): Scope => ({ requestId: 'unknown', redactor: Redactor.none });

/** The scope of the request answered by `res`, made by the first middleware. */
export function scopeOf(res: Response): Scope {
  return (res.locals.scope as Scope | undefined) ?? unknownScope();
}

export function setScope(res: Response, scope: Scope): void {
  res.locals.scope = scope;
}

// A property of the context, not a WeakMap entry: Apollo hands its plugins a copy of the context
// (one per operation), and a copy keeps its own enumerable properties, symbols too.
const SCOPE = Symbol('request scope');

/** Ties an Apollo context to its request's scope (the plugins are given the context). */
export function bindScope<T extends object>(context: T, scope: Scope): T {
  return Object.assign(context, { [SCOPE]: scope });
}

export function scopeOfContext(context: object | undefined): Scope {
  return (context as { [SCOPE]?: Scope } | undefined)?.[SCOPE] ?? unknownScope();
}

/** An error presented already, with its request's scope (a context that could not be made). */
export class PresentedError extends GraphQLError {
  constructor(readonly presented: GraphQLFormattedError) {
    super(presented.message);
  }
}

/**
 * Apollo's formatError: what it returns stands for the error until it is
 * settled, and is itself safe (the generic internal error) should anything
 * send it unsettled.
 */
export function deferred(error: unknown): GraphQLFormattedError {
  if (error instanceof PresentedError) return error.presented;
  const placeholder: Deferred = { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  Object.defineProperty(placeholder, CAUSE, { value: error, enumerable: false });
  return placeholder;
}

/** The errors as the client sees them, presented with `scope` (each cause logged once, under its id). */
export function settle(
  errors: readonly GraphQLFormattedError[] | undefined,
  scope: Scope,
  log: Logger,
): GraphQLFormattedError[] | undefined {
  if (!errors?.some((e) => CAUSE in e)) return errors as GraphQLFormattedError[] | undefined;
  return errors.map((e) => (CAUSE in e ? present((e as Deferred)[CAUSE], scope, log) : e));
}
