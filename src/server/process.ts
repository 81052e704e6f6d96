import type { Logger } from '../logger.js';

// The process around a running Hookline (npm start, hookline worker): a
// signal drains, a second one exits at once, and nothing reaches stdout or
// stderr that is not a JSON log line, crashes included.

const SIGNALS = { SIGTERM: 15, SIGINT: 2 } as const;

export function drainOnSignals(stop: () => Promise<void>, log: Logger): void {
  let draining = false;
  for (const [signal, number] of Object.entries(SIGNALS)) {
    process.on(signal, () => {
      if (draining) {
        log.warn({ signal }, 'second signal: exiting without finishing the drain');
        process.exit(128 + number);
      }
      draining = true;
      log.info({ signal }, 'signal received: draining');
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err: errorFields(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

export function logCrashes(log: Logger): void {
  process.on('uncaughtException', (err) => {
    log.fatal({ err: errorFields(err) }, 'uncaught exception: exiting');
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err: errorFields(err) }, 'unhandled promise rejection: exiting');
    process.exit(1);
  });
}

export function errorFields(err: unknown): { type: string; message: string; stack?: string } {
  return err instanceof Error
    ? { type: err.name, message: err.message, stack: err.stack }
    : { type: typeof err, message: String(err) };
}
