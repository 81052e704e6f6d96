import { randomUUID } from 'node:crypto';
import {
  GraphQLError,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { costProblem } from './cost.js';
import { depthLimitRule } from './depth.js';
import { MAX_TOKENS, documentProblem } from './document.js';
import { variableProblems } from './variables.js';

// One admission path for every transport: size and nesting of the document
// (before the recursive parser sees it), parsing, the standard validation
// rules together with the depth limit, the variables (well-formed, typed, no
// echo) and the cost limit. HTTP runs it through Apollo (server/http.ts: the
// same rules, parse options and checks); WebSocket through prepare().

export { depthLimitRule } from './depth.js';
export { documentProblem } from './document.js';
export { MAX_TOKENS };

export const VALIDATION_RULES = [...specifiedRules, depthLimitRule()];

export interface GraphQLRequest {
  query?: unknown;
  operationName?: unknown;
  variables?: unknown;
}

export interface Admitted {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  operationName: string | undefined;
  variables: Record<string, unknown>;
}

export function newRequestId(): string {
  return randomUUID();
}

function refused(message: string): GraphQLError[] {
  return [new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } })];
}

/** The shape of the request itself: a query string, an optional operation name, variables as an object. */
export function requestProblem(req: GraphQLRequest): GraphQLError[] {
  if (typeof req.query !== 'string' || req.query.length === 0)
    return refused('query: expected the GraphQL document as a string');
  if (req.operationName !== undefined && req.operationName !== null && typeof req.operationName !== 'string') {
    return refused('operationName: expected a string');
  }
  if (
    req.variables !== undefined &&
    req.variables !== null &&
    (typeof req.variables !== 'object' || Array.isArray(req.variables))
  ) {
    return refused('variables: expected an object');
  }
  const doc = documentProblem(req.query);
  return doc ? [doc] : [];
}

/** What runs once the document is parsed and valid: the variables' check, then the cost limit. */
export function operationProblems(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  transport: 'http' | 'ws',
): GraphQLError[] {
  const vars = variableProblems(schema, document, operation, variables);
  if (vars.length) return vars;
  if (operation.operation === 'subscription' && transport === 'http') {
    return refused('subscriptions are served over WebSocket (graphql-ws) on the same path, not over HTTP');
  }
  const cost = costProblem(schema, document, variables, operation.name?.value);
  return cost ? [cost] : [];
}

export type Admission =
  ({ ok: true } & Admitted) | { ok: false; errors: GraphQLError[]; document: DocumentNode | null };

/** The whole path, for transports that execute with graphql-js directly (graphql-ws). */
export function admit(schema: GraphQLSchema, req: GraphQLRequest): Admission {
  const shape = requestProblem(req);
  if (shape.length) return { ok: false, errors: shape, document: null };
  let document: DocumentNode;
  try {
    document = parse(req.query as string, { maxTokens: MAX_TOKENS });
  } catch (e) {
    if (e instanceof GraphQLError) return { ok: false, errors: [e], document: null };
    throw e;
  }
  const refuse = (errors: readonly GraphQLError[]): Admission => ({ ok: false, errors: [...errors], document });
  const invalid = validate(schema, document, VALIDATION_RULES);
  if (invalid.length) return refuse(invalid);
  const operationName = typeof req.operationName === 'string' ? req.operationName : undefined;
  const operation = getOperationAST(document, operationName);
  if (!operation) {
    return refuse(
      refused(
        operationName
          ? `no operation named ${operationName} in the document`
          : 'the document has several operations: name one in operationName',
      ),
    );
  }
  const variables = (req.variables ?? {}) as Record<string, unknown>;
  const problems = operationProblems(schema, document, operation, variables, 'ws');
  if (problems.length) return refuse(problems);
  return { ok: true, document, operation, operationName, variables };
}
