import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from '../logger.js';

// One log line per GraphQL operation, the same on every transport. Never the
// variables or the document: they may carry secrets and payloads.

export interface OperationLine {
  transport: 'http' | 'ws';
  requestId: string;
  operation: string | null;
  type: string;
  apiKey: string | null;
  ms: number;
  /** 'ok', or the first error's code. */
  outcome: string;
  status?: number;
}

export function outcomeOf(errors: readonly GraphQLFormattedError[] | undefined): string {
  const code = errors?.[0]?.extensions?.code;
  return errors?.length ? (typeof code === 'string' ? code : 'ERROR') : 'ok';
}

export function logOperation(log: Logger, line: OperationLine): void {
  log.info({ ...line, ms: Math.round(line.ms * 10) / 10 }, 'operation');
}
