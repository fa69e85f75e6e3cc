import { ServeConfig } from '../config.js';
import { isGatewayError } from '../errors.js';
import { startGateway } from '../gateway.js';
import { createLoggers } from '../logger.js';
import { UsageError, parseFlags, type FlagSpec } from './args.js';

export const SERVE_FLAGS: readonly FlagSpec[] = [
  { key: 'legacy', env: 'STRANGLER_LEGACY_URL' },
  { key: 'modern', env: 'STRANGLER_MODERN_URL' },
  { key: 'db', env: 'STRANGLER_DB' },
  { key: 'dbPoolSize', env: 'STRANGLER_DB_POOL_SIZE' },
  { key: 'dbStatementTimeoutMs', env: 'STRANGLER_DB_STATEMENT_TIMEOUT_MS' },
  { key: 'port', env: 'STRANGLER_PORT' },
  { key: 'host', env: 'STRANGLER_HOST' },
  { key: 'adminPort', env: 'STRANGLER_ADMIN_PORT' },
  { key: 'adminHost', env: 'STRANGLER_ADMIN_HOST' },
  { key: 'adminToken', env: 'STRANGLER_ADMIN_TOKEN', envOnly: true },
  { key: 'adminAllowedHosts', env: 'STRANGLER_ADMIN_ALLOWED_HOSTS' },
  { key: 'logLevel', env: 'STRANGLER_LOG_LEVEL' },
  { key: 'logFormat', env: 'STRANGLER_LOG_FORMAT' },
  { key: 'accessLog', env: 'STRANGLER_ACCESS_LOG' },
  { key: 'shutdownGraceMs', env: 'STRANGLER_SHUTDOWN_GRACE_MS' },
  { key: 'keepAliveTimeoutMs', env: 'STRANGLER_KEEP_ALIVE_TIMEOUT_MS' },
  { key: 'legacyMaxInFlight', env: 'STRANGLER_LEGACY_MAX_IN_FLIGHT' },
  { key: 'modernMaxInFlight', env: 'STRANGLER_MODERN_MAX_IN_FLIGHT' },
  { key: 'trustProxy', env: 'STRANGLER_TRUST_PROXY' },
  { key: 'headersTimeoutMs', env: 'STRANGLER_HEADERS_TIMEOUT_MS' },
  { key: 'requestTimeoutMs', env: 'STRANGLER_REQUEST_TIMEOUT_MS' },
  { key: 'maxHeaderBytes', env: 'STRANGLER_MAX_HEADER_BYTES' },
  { key: 'maxUrlBytes', env: 'STRANGLER_MAX_URL_BYTES' },
  { key: 'maxBodyBytes', env: 'STRANGLER_MAX_BODY_BYTES' },
  { key: 'maxConnections', env: 'STRANGLER_MAX_CONNECTIONS' },
  { key: 'webhook', multiple: true },
];

/** `strangler serve`: runs the gateway until SIGTERM or SIGINT, then drains and exits 0. */
export async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, positionals } = parseFlags(argv, SERVE_FLAGS, ServeConfig, env);
  if (positionals.length > 0) throw new UsageError(`serve takes no arguments (got "${positionals[0]}")`);

  const { logger, accessLogger, flush } = createLoggers({ level: config.logLevel, format: config.logFormat });
  // A crash must not take the buffered log lines, which say what led to it, down with it.
  process.once('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception: exiting');
    flush();
    process.exit(1);
  });
  // A second signal, of either kind, means the operator will not wait for the drain.
  const exitNow = (signal: string): never => {
    logger.warn({ signal }, 'second signal: exiting now');
    flush();
    process.exit(1);
  };
  // Handlers go in before start-up, so a signal right after "gateway listening" is never left to
  // the default action (killed, no drain); one during start-up stops the gateway once it is up.
  let early: string | undefined;
  let onSignal = (signal: string) => {
    if (early !== undefined) exitNow(signal);
    early = signal;
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  let gateway;
  try {
    gateway = await startGateway(config, { logger, accessLogger });
  } catch (err) {
    flush();
    if (isGatewayError(err) && (err.code === 'DB_OPEN_FAILED' || err.code === 'CONFIG_INVALID')) throw new UsageError(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new Error(`cannot listen: ${(err as Error).message}`);
    }
    throw err;
  }
  flush(); // whoever waits for "gateway listening" sees it now

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) exitNow(signal);
      stopping = true;
      logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining in-flight requests');
      gateway.close().then(
        () => {
          flush();
          resolveExit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          flush();
          resolveExit(1);
        },
      );
    };
    onSignal = stop;
    if (early !== undefined) stop(early);
  });
}
