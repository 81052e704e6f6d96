import { pino, type Logger } from 'pino';

// JSON lines on stdout. Secrets never reach a log call; the redact list is the
// second line of defence for anything that carries them by accident.
export function createLogger(level: string): Logger {
  return pino({
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
  });
}

export type { Logger };
