// Opaque Relay cursors for keyset paging over (created_at DESC, id DESC). A
// cursor names its list, so one list's cursor is refused by another, and it
// is checked when decoded: a forged one never reaches the database (an id
// that is not a UUID, or a date PostgreSQL cannot hold, used to answer
// INTERNAL_SERVER_ERROR).

export type CursorList = 'webhooks' | 'events' | 'deliveries' | 'audit' | 'accounts';

export interface Position {
  createdAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Rows are created by this service; nothing is older than this, nothing lives past year 9999.
const EARLIEST = Date.UTC(2000, 0, 1);
const LATEST = Date.UTC(10000, 0, 1);

export function encodeCursor(list: CursorList, p: Position): string {
  return Buffer.from(`${list}|${p.createdAt.toISOString()}|${p.id}`).toString('base64url');
}

/** The position a cursor of `list` stands for, or null when it is not one. */
export function decodeCursor(list: CursorList, cursor: string): Position | null {
  if (cursor.length > 200 || !/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const parts = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (parts.length !== 3 || parts[0] !== list) return null;
  const [, iso, id] = parts as [string, string, string];
  const at = Date.parse(iso);
  // Exactly what encodeCursor writes: a date that Date.parse would normalise (February 30) is not one.
  if (Number.isNaN(at) || at < EARLIEST || at >= LATEST || new Date(at).toISOString() !== iso) return null;
  if (!UUID.test(id)) return null;
  return { createdAt: new Date(at), id };
}
