import { pino, type Logger } from 'pino';

// JSON lines on stdout. Secrets never reach a log call; the redact list is the
// second line of defence for anything that carries them by accident.
export function createLogger(level: string, destination?: { write(line: string): void }): Logger {
  const options = {
    level,
    base: { service: 'hookline' },
    redact: {
      paths: [
        'req.headers.authorization',
        '*.authorization',
        '*.bearerToken',
        '*.hmacSecret',
        '*.token',
        'token',
        'bearerToken',
        'hmacSecret',
      ],
      censor: '[redacted]',
    },
  };
  // A destination other than stdout: tests read the lines the service writes.
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
