import { readFileSync } from 'node:fs';
import { UsageError } from './args.js';
import { backup } from './backup.js';
import { serve } from './serve.js';

const HELP = `strangler: an HTTP gateway for strangler-fig migrations

Usage:
  strangler serve [flags]     run the gateway (flags and env vars: see README "Configuration")
  strangler backup FILE [--db PATH]  copy the live route database to FILE (SQLite online backup)
  strangler --help            this text
  strangler --version         the version

serve flags (each also read from the env var shown):
  --legacy URL                STRANGLER_LEGACY_URL       legacy backend (required)
  --modern URL                STRANGLER_MODERN_URL       modern backend (required)
  --db PATH                   STRANGLER_DB               route database (default ./routes.db)
  --port N                    STRANGLER_PORT             data plane port (default 8080)
  --host ADDR                 STRANGLER_HOST             data plane address (default 0.0.0.0)
  --admin-port N              STRANGLER_ADMIN_PORT       admin API port (default 9901)
  --admin-host ADDR           STRANGLER_ADMIN_HOST       admin API address (default 127.0.0.1)
  --admin-allowed-hosts LIST  STRANGLER_ADMIN_ALLOWED_HOSTS  extra Host names the admin API answers (or *)
  --log-level LEVEL           STRANGLER_LOG_LEVEL        fatal|error|warn|info|debug|trace|silent (default info)
  --log-format FORMAT         STRANGLER_LOG_FORMAT       json|pretty (default json)
  --access-log on|off         STRANGLER_ACCESS_LOG       one log line per request (default on)
  --shutdown-grace-ms N       STRANGLER_SHUTDOWN_GRACE_MS  drain time on SIGTERM (default 10000)
  --keep-alive-timeout-ms N   STRANGLER_KEEP_ALIVE_TIMEOUT_MS  client keep-alive (default 65000)
  --legacy-max-in-flight N    STRANGLER_LEGACY_MAX_IN_FLIGHT   legacy bulkhead (default 256)
  --modern-max-in-flight N    STRANGLER_MODERN_MAX_IN_FLIGHT   modern bulkhead (default 256)
                              STRANGLER_ADMIN_TOKEN      admin bearer token (env only)
`;

/** Runs the CLI and sets the exit code: 0 ok, 1 failure, 2 usage or configuration error. */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    process.exitCode = await dispatch(argv, env);
  } catch (err) {
    process.stderr.write(`strangler: ${(err as Error).message}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
  if (process.exitCode !== undefined && argv[0] === 'serve') process.exit();
}

async function dispatch(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest, env);
    case 'backup':
      return backup(rest, env);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    case '--version':
    case '-v':
      process.stdout.write(`${version()}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"; try "strangler --help"`);
  }
}

function version(): string {
  for (const path of ['../../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout (src/ when run from source, dist/src/ when built)
    }
  }
  return 'unknown';
}
