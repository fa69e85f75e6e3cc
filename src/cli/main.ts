import { UsageError } from './args.js';
import { packageVersion } from '../version.js';
import { BACKENDS_USAGE, backendsCommand } from './backends.js';
import { backup } from './backup.js';
import { breakersCommand } from './breakers.js';
import { applyCommand, exportCommand } from './route-file.js';
import { ROUTES_USAGE, routesCommand } from './routes.js';
import { serve } from './serve.js';
import { SHADOW_USAGE, shadowCommand } from './shadow.js';
import { ROLLOUT_USAGE, rolloutCommand } from './rollout.js';
import { EVENTS_USAGE, WEBHOOKS_USAGE, eventsCommand, webhooksCommand } from './outbox.js';
import { statusCommand } from './status.js';

const HELP = `strangler: an HTTP gateway for strangler-fig migrations

Usage:
  strangler serve [flags]     run the gateway (flags and env vars: see README "Configuration")
  ${ROUTES_USAGE}
  ${BACKENDS_USAGE}
  strangler status            the migration at a glance
  ${SHADOW_USAGE}  what shadow mode found on a route (clear: start over)
  ${ROLLOUT_USAGE}  a progressive rollout driven by the gateway
  ${EVENTS_USAGE}  lifecycle events and their webhook deliveries
  ${WEBHOOKS_USAGE}  where events are posted
  strangler breakers [reset <routeId>]
  strangler export [--json] > routes.yaml
  strangler apply -f <file|-> [--dry-run] [--prune]
  strangler backup FILE [--db PATH]  copy the live route database to FILE (SQLite online backup;
                              a PostgreSQL database is backed up with pg_dump)
  strangler --help            this text
  strangler --version         the version

Flags of the commands that call the admin API (all but serve and backup):
  --admin-url URL             STRANGLER_ADMIN_URL        the admin API (default http://127.0.0.1:9901)
                              STRANGLER_ADMIN_TOKEN      its bearer token (env only)
  --json                      print the API's JSON instead of text
  --actor NAME                who makes a change, kept in the history (default user@host)
  --reason TEXT               why, kept in the history
Setting flags of backends add/set: --url URL, --role legacy|modern, --max-in-flight N, and --set path=value
  (--set connectTimeoutMs=2000 --set connections=64 --set retryBudget.percent=10).
Setting flags of routes add/set: --prefix /path, --mode legacy|canary|modern|shadow, --canary-percent N,
  --sticky-key cookie|header:<name>, --timeout-ms N, --legacy-backend NAME, --modern-backend NAME,
  and --set path=value for any other field
  (repeatable; the value is JSON if it parses: --set resilience.retries=2 --set resilience.fallthroughStatuses=[404]
  --set shadow.ignorePaths='["$.meta.requestId"]').
Exit codes: 0 ok, 1 the call failed (the API's message is printed), 2 usage error.

serve flags (each also read from the env var shown):
  --legacy URL                STRANGLER_LEGACY_URL       the default legacy backend's URL (required on an empty database)
  --modern URL                STRANGLER_MODERN_URL       the default modern backend's URL (likewise)
  --db PATH|URL               STRANGLER_DB               route database: a SQLite file (default ./routes.db), or
                              postgres://user:pass@host:5432/db (also postgresql://, ?sslmode=require) for gateways on several hosts
  --db-pool-size N            STRANGLER_DB_POOL_SIZE     PostgreSQL connections per gateway (default 5)
  --db-statement-timeout-ms N STRANGLER_DB_STATEMENT_TIMEOUT_MS  PostgreSQL statement limit, else 503 (default 5000)
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
  --legacy-max-in-flight N    STRANGLER_LEGACY_MAX_IN_FLIGHT   the default legacy backend's bulkhead (stored; 256 when created)
  --modern-max-in-flight N    STRANGLER_MODERN_MAX_IN_FLIGHT   the default modern backend's bulkhead (likewise)
  --trust-proxy LIST          STRANGLER_TRUST_PROXY      IPs/CIDRs whose X-Forwarded-* are appended to (default none)
  --headers-timeout-ms N      STRANGLER_HEADERS_TIMEOUT_MS     time to send a request head (default 10000)
  --request-timeout-ms N      STRANGLER_REQUEST_TIMEOUT_MS     time to send a whole request (default 300000)
  --max-header-bytes N        STRANGLER_MAX_HEADER_BYTES       request head size, else 431 (default 16384)
  --max-url-bytes N           STRANGLER_MAX_URL_BYTES          request target length, else 414 (default 8192)
  --max-body-bytes N|none     STRANGLER_MAX_BODY_BYTES         request body, else 413; routes may override (default none)
  --max-connections N         STRANGLER_MAX_CONNECTIONS        open client connections, else 503 (default 10000)
  --webhook URL               (repeatable)               post every stage change and rollout move there (stored, like POST /webhooks)
                              STRANGLER_ADMIN_TOKEN      admin bearer token (env only)
`;

/** Runs the CLI and sets the exit code: 0 ok, 1 failure, 2 usage or configuration error. */
export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  // A reader that stops early (`strangler export | head`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
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
    case 'routes':
      return routesCommand(rest, env);
    case 'backends':
      return backendsCommand(rest, env);
    case 'breakers':
      return breakersCommand(rest, env);
    case 'export':
      return exportCommand(rest, env);
    case 'apply':
      return applyCommand(rest, env);
    case 'status':
      return statusCommand(rest, env);
    case 'shadow':
      return shadowCommand(rest, env);
    case 'rollout':
      return rolloutCommand(rest, env);
    case 'events':
      return eventsCommand(rest, env);
    case 'webhooks':
      return webhooksCommand(rest, env);
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
      process.stdout.write(`${packageVersion()}\n`);
      return 0;
    default:
      throw new UsageError(`unknown command "${command}"; try "strangler --help"`);
  }
}
