/**
 * `npm start`: the legacy demo, the modern demo and the gateway in front of them, on a seeded
 * routes.db, plus a second modern service (`users-svc`) for the named-backends walk-through.
 * Ports come from DEMO_LEGACY_PORT, DEMO_MODERN_PORT, DEMO_USERS_PORT, STRANGLER_PORT and
 * STRANGLER_ADMIN_PORT (defaults 3001, 3002, 3003, 8080, 9901).
 */
import type { Server } from 'node:http';
import { createLegacyServer } from '../legacy/server.js';
import { createModernServer } from '../modern/server.js';
import { ServeConfig } from '../src/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { createLoggers } from '../src/logger.js';
import { seed } from './seed.js';

async function main(): Promise<void> {
  const env = process.env;
  const legacyPort = Number(env.DEMO_LEGACY_PORT ?? 3001);
  const modernPort = Number(env.DEMO_MODERN_PORT ?? 3002);
  const legacy = await listen(createLegacyServer(), legacyPort, 'legacy demo');
  const modern = await listen(createModernServer(), modernPort, 'modern demo');
  const usersPort = Number(env.DEMO_USERS_PORT ?? 3003);
  const users = await listen(createModernServer(env, 'users-svc'), usersPort, 'users-svc demo');
  const config = ServeConfig.parse({
    legacy: `http://127.0.0.1:${legacyPort}`,
    modern: `http://127.0.0.1:${modernPort}`,
    db: env.STRANGLER_DB ?? './routes.db',
    port: env.STRANGLER_PORT ?? 8080,
    host: '127.0.0.1',
    adminPort: env.STRANGLER_ADMIN_PORT ?? 9901,
    logLevel: env.STRANGLER_LOG_LEVEL ?? 'info',
    logFormat: 'pretty',
    shutdownGraceMs: 2_000,
  });
  const { logger, accessLogger } = createLoggers({ level: config.logLevel, format: config.logFormat });
  const gateway = await startGateway(config, { logger, accessLogger });
  await seed(gateway);
  printWelcome(gateway, config.db, usersPort);

  const stop = async () => {
    await gateway.close();
    legacy.close();
    modern.close();
    users.close();
    logger.flush();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

function listen(server: Server, port: number, name: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`${name} cannot listen on 127.0.0.1:${port}: ${err.code ?? err.message}`)),
    );
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function printWelcome(gateway: Gateway, db: string, usersPort: number): void {
  const p = gateway.proxyUrl;
  const a = gateway.adminUrl;
  process.stdout.write(`
  strangler-gateway demo is running
    gateway     ${p}      (point a browser or curl here)
    dashboard   ${a}/ui/   (open it in a browser: the routes, canary slider, flip to legacy)
    admin API   ${a}
    routes.db   ${db}
    users-svc   http://127.0.0.1:${usersPort}   (a second modern service: strangler backends add users-svc --url …)

  Try it:
    curl -i ${p}/orders                    # x-strangler-backend: legacy
    curl -s ${a}/routes                    # the route table
    curl -s -X PATCH ${a}/routes/orders -H 'content-type: application/json' \\
         -d '{"mode":"canary","canaryPercent":50,"reason":"first canary"}'
    curl -s ${p}/orders                    # half the new visitors now see "servedBy":"modern"
    curl -s -X POST ${a}/routes/orders/flip -H 'content-type: application/json' -d '{"to":"modern"}'
    curl -s -X POST ${a}/routes/orders/flip -H 'content-type: application/json' -d '{"to":"legacy"}'   # rollback
    curl -s ${a}/routes/orders/history     # who changed what, and why
    curl -s ${p}/stock/MUG-002             # legacy answers; modern gets a copy (shadow mode)
    npx strangler shadow stock             # where modern's answers differ from legacy's
    curl -s -X POST http://127.0.0.1:${process.env.DEMO_MODERN_PORT ?? 3002}/__stock-fix   # "deploy" modern's fix; then
    npx strangler rollout start stock      # … let the gateway walk it to modern (README "Progressive rollout")
    curl -s -X POST http://127.0.0.1:${process.env.DEMO_MODERN_PORT ?? 3002}/__chaos -H 'content-type: application/json' -d '{"failRate":1}'   # break modern

  Ctrl-C stops everything.

`);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).message}\n`);
  process.exit(1);
});
