import pg from 'pg';

/**
 * No statement of the hot path runs longer (SQLSTATE 57014 when it would):
 * sent once per connection, in its startup packet, it costs a publish no
 * statement and no round trip (SET LOCAL would need a transaction around the
 * one-statement publish: BEGIN, SET, COMMIT, three more). Measured: one event
 * to 25 webhooks (20 filtered), insertEvents 2,000 times in a row, p50
 * 0.53-0.54 ms with it, 0.55 ms with statement_timeout=0 (runs differ by
 * ±0.03 ms). Per evaluation a
 * filter is bounded by its cost (domain/filter.ts: ~11 ms at the bound);
 * this bounds the sum over many events and subscriptions, and waits for locks.
 * The longest legitimate statement is a publishEvents of 1,000 events fanning
 * out widely (bench: 100 events in 117 ms p99, one event to 1,000 webhooks in
 * 135 ms), a replay batch or a retention batch: all far below. The one to
 * watch is a replay's dry run, which counts its whole window in one statement.
 */
export const STATEMENT_TIMEOUT_MS = 30_000;

// The queue's hot path talks to PostgreSQL through plain pg, not the ORM:
// one small statement per step, no per-row entity hydration.
export function createPool(
  url: string,
  max: number,
  opts: { durable?: boolean; statementTimeoutMs?: number } = {},
): pg.Pool {
  const settings = [`statement_timeout=${opts.statementTimeoutMs ?? STATEMENT_TIMEOUT_MS}`];
  // pg lets a URL's own ?options= replace the options given beside it, which would drop the
  // timeout: the URL's are appended instead, so they win only for the settings they name.
  const parsed = URL.canParse(url) ? new URL(url) : null;
  const fromUrl = parsed?.searchParams.get('options');
  parsed?.searchParams.delete('options');
  // Non-durable commits skip the WAL flush (1-7 ms per commit measured here).
  // Only for the worker's own writes: a claim or attempt lost in a database
  // crash puts the delivery back in the queue, which at-least-once allows.
  if (opts.durable === false) settings.push('synchronous_commit=off');
  const pool = new pg.Pool({
    connectionString: parsed?.toString() ?? url,
    max,
    idleTimeoutMillis: 30_000,
    options: [...settings.map((s) => `-c ${s}`), ...(fromUrl ? [fromUrl] : [])].join(' '),
  });
  // A client losing its connection (server restart) must not crash the process: idle, the pool
  // replaces it on next use; checked out, its query fails and the caller handles that. Without a
  // listener, the 'error' event a checked-out client also emits would be an uncaught exception.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}
