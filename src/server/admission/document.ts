import { GraphQLError, Lexer, Source, TokenKind } from 'graphql';

// graphql-js parses and validates recursively: a document nested a few
// thousand levels deep overflows the stack (measured: RangeError at 3,000
// nested selections) and a long one costs validation time before any limit
// applies. The lexer is iterative, so it counts tokens and nesting first and
// refuses such documents before they reach the parser.

export const MAX_TOKENS = 10_000;
export const MAX_NESTING = 64;

const OPEN = new Set([TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L]);
const CLOSE = new Set([TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R]);

/** A problem with the document's size or shape, or null; syntax errors are left to the parser. */
export function documentProblem(query: string): GraphQLError | null {
  const lexer = new Lexer(new Source(query));
  let tokens = 0;
  let nesting = 0;
  try {
    for (let t = lexer.advance(); t.kind !== TokenKind.EOF; t = lexer.advance()) {
      if (++tokens > MAX_TOKENS) {
        return new GraphQLError(`the document has more than ${MAX_TOKENS} tokens: split it into smaller operations`);
      }
      if (OPEN.has(t.kind) && ++nesting > MAX_NESTING) {
        return new GraphQLError(`the document is nested more than ${MAX_NESTING} levels deep`);
      }
      if (CLOSE.has(t.kind)) nesting--;
    }
  } catch {
    // A lexical error: the parser reports it with its position.
    return null;
  }
  return null;
}
