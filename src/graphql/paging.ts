import { decodeCursor, encodeCursor, type CursorList, type Position } from '../domain/cursor.js';
import { badInput } from '../domain/errors.js';
import { validPageSize } from '../domain/validation.js';

export function pageArgs(
  list: CursorList,
  first: number | null | undefined,
  after: string | null | undefined,
): { limit: number; after: Position | null } {
  const limit = validPageSize(first);
  if (after === null || after === undefined) return { limit, after: null };
  const pos = decodeCursor(list, after);
  if (!pos) throw badInput('after', 'is not a cursor of this list (use pageInfo.endCursor of its previous page)');
  return { limit, after: pos };
}

export function connection<T extends { id: string; createdAt: Date }>(
  list: CursorList,
  items: T[],
  hasNextPage: boolean,
) {
  const edges = items.map((node) => ({ node, cursor: encodeCursor(list, node) }));
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}
