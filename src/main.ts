import 'reflect-metadata';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startHookline } from './server/runtime.js';

// `npm start`: the whole service in one process.

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`hookline: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel);
  const hookline = await startHookline(config, log);

  if ((await hookline.services.apiKeys.count()) === 0) {
    const { token } = await hookline.services.apiKeys.create('bootstrap', 'SUPPORT');
    process.stdout.write(
      [
        '',
        '  First start: created a SUPPORT API key. It is shown only this once; keep it safe.',
        '',
        `    ${token}`,
        '',
        '  Try it:',
        `    curl -s ${hookline.url} -H 'content-type: application/json' \\`,
        `      -H 'authorization: Bearer ${token}' \\`,
        `      -d '{"query":"{ viewer { name role } resources { type eventTypes } }"}'`,
        '',
      ].join('\n') + '\n',
    );
  }

  let exiting = false;
  const shutdown = (signal: string) => {
    if (exiting) return;
    exiting = true;
    log.info({ signal }, 'signal received');
    hookline.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`hookline: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
