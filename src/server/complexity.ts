import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, getNamedType, getNullableType, isListType, type GraphQLSchema } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { HooklineError } from '../domain/errors.js';
import { requestRefusal } from './errors.js';

// A cost limit: each field costs 1 plus its children, times the page size for
// paged lists (first, default 20) and times 10 for other lists. Found missing
// by the bad-input sweep: 1,000 aliases of a nested list query ran in full.

export const MAX_QUERY_COST = 25_000;
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

export function queryCostPlugin(schema: GraphQLSchema): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          let cost: number;
          try {
            cost = getComplexity({
              schema,
              query: document,
              variables: request.variables ?? {},
              operationName: request.operationName ?? undefined,
              estimators: [estimator],
            });
          } catch (e) {
            // It coerces the variables itself: a bad value is the caller's mistake, reported as such.
            if (e instanceof GraphQLError) throw requestRefusal(new HooklineError('BAD_USER_INPUT', e.message));
            throw e;
          }
          if (cost > MAX_QUERY_COST) {
            throw requestRefusal(
              new HooklineError(
                'BAD_USER_INPUT',
                `query cost ${cost} exceeds the limit of ${MAX_QUERY_COST}: ask for smaller pages (first) or fewer nested lists`,
              ),
            );
          }
        },
      };
    },
  };
}
