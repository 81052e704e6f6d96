import 'reflect-metadata';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from './config.js';
import { SERVICE_ACTOR } from './domain/audit.js';
import { createLogger, type Logger } from './logger.js';
import { drainOnSignals, errorFields, logCrashes } from './server/process.js';
import { startHookline, type Hookline } from './server/runtime.js';
import { EVERY_ACCOUNT } from './domain/accounts.js';

// `npm start`: the whole service in one process. Everything it writes is a
// JSON log line, but for the first start's key banner in a terminal.

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      createLogger('info').fatal({ problems: e.problems }, 'invalid configuration');
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  logCrashes(log);
  let hookline: Hookline;
  try {
    hookline = await startHookline(config, log);
  } catch (err) {
    log.fatal({ err: errorFields(err) }, 'failed to start');
    process.exit(1);
  }
  drainOnSignals(() => hookline.stop(), log);
  if ((await hookline.services.apiKeys.count()) === 0) await firstKey(hookline, config, log);
}

/**
 * On an empty database: a SUPPORT key, shown once. In a terminal it is printed
 * with a curl line to try; otherwise (a log pipeline) it never enters the log:
 * it goes to a file only the owner can read, and the log says where.
 */
async function firstKey(hookline: Hookline, config: Config, log: Logger): Promise<void> {
  const { apiKey, token } = await hookline.services.apiKeys.create(
    EVERY_ACCOUNT,
    'bootstrap',
    'SUPPORT',
    null,
    null,
    SERVICE_ACTOR,
  );
  const consoleUrl = hookline.consoleUrl;
  if (process.stdout.isTTY) {
    process.stdout.write(
      [
        '',
        '  First start: created a SUPPORT API key. It is shown only this once; keep it safe.',
        '',
        `    ${token}`,
        '',
        ...(consoleUrl ? [`  The support console: ${consoleUrl} (sign in with this key)`, ''] : []),
        '  Or try it:',
        `    curl -s ${hookline.url} -H 'content-type: application/json' \\`,
        `      -H 'authorization: Bearer ${token}' \\`,
        `      -d '{"query":"{ viewer { name role } resources { type eventTypes } }"}'`,
        '',
      ].join('\n') + '\n',
    );
    return;
  }
  const file = path.resolve(config.dataDir, 'first-api-key');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  log.warn(
    { apiKey: apiKey.id, file, console: consoleUrl },
    'first start: created a SUPPORT API key; its token is in this file only: read it, keep it safe, delete the file',
  );
}

main().catch((err: unknown) => {
  createLogger('info').fatal({ err: errorFields(err) }, 'failed to start');
  process.exit(1);
});
