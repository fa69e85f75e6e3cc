import pino, { type Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  format: 'json' | 'pretty';
}

/** Secrets that must never reach a log line, wherever they appear. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'adminToken',
  'token',
  'config.adminToken',
];

/**
 * JSON logs go to an asynchronous destination so the request path never waits on stdout;
 * the demo asks for pretty output, rendered off the main thread by pino-pretty.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (options.format === 'pretty') {
    return pino(base, pino.transport({ target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } }));
  }
  return pino(base, pino.destination({ sync: false }));
}
