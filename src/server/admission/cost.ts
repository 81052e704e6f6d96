import {
  GraphQLError,
  getNamedType,
  getNullableType,
  isListType,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';

// A cost limit: each field costs 1 plus its children, times the page size for
// paged lists (first, default 20) and times 10 for other lists. Found missing
// by the bad-input sweep: 1,000 aliases of a nested list query ran in full.
// Runs after validation and the variables' own check, so it cannot meet a
// fragment cycle or an ill-typed variable.

export const MAX_QUERY_COST = 25_000;
// Fields counted once fragments are spread: a fan of fragments (each spreading
// the next twice) is exponential, and graphql-query-complexity refuses past this.
export const MAX_QUERY_NODES = 10_000;
const DEFAULT_PAGE = 20;
const LIST_GUESS = 10;

const estimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  if (field.args.some((a) => a.name === 'first')) {
    const first = typeof args.first === 'number' && args.first > 0 ? args.first : DEFAULT_PAGE;
    return 1 + childComplexity * first;
  }
  // A connection's edges are already counted by the page size of the field above.
  if (field.name === 'edges') return 1 + childComplexity;
  if (isListType(getNullableType(field.type)) && getNamedType(field.type)) return 1 + childComplexity * LIST_GUESS;
  return 1 + childComplexity;
};

export function costProblem(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName: string | undefined,
): GraphQLError | null {
  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      variables,
      operationName,
      estimators: [estimator],
      maxQueryNodes: MAX_QUERY_NODES,
    });
  } catch (e) {
    if (!(e instanceof GraphQLError)) throw e;
    return new GraphQLError(
      `the operation selects more than ${MAX_QUERY_NODES} fields once its fragments are spread: ask for less`,
      { extensions: { code: 'BAD_USER_INPUT' } },
    );
  }
  if (cost <= MAX_QUERY_COST) return null;
  return new GraphQLError(
    `query cost ${cost} exceeds the limit of ${MAX_QUERY_COST}: ask for smaller pages (first) or fewer nested lists`,
    { extensions: { code: 'BAD_USER_INPUT' } },
  );
}
