import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { LiveBackends } from './backends/live-backends.js';
import { allowedHostnames } from './admin/host-check.js';
import { buildAdminApp } from './admin/server.js';
import { systemClock, systemRandom, type Clock, type Random } from './clock.js';
import type { ServeConfig } from './config.js';
import { GatewayMetrics } from './observe/metrics.js';
import { TrafficWindow } from './observe/traffic-window.js';
import { ProxyServer } from './proxy/proxy.js';
import { BreakerRegistry } from './resilience/breaker-registry.js';
import { HEDGE_REFRESH_MS, HedgeDelays } from './resilience/hedge-delay.js';
import { TrustedProxies } from './proxy/trusted-proxies.js';
import { LiveRoutes } from './routing/live-routes.js';
import { RolloutDriver } from './rollout/driver.js';
import { StepCounter } from './rollout/step-counter.js';
import { FALLBACK_FLUSH_MS, FallbackLedger } from './rollout/fallback-ledger.js';
import { FLUSH_MS, Shadowing } from './shadow/shadowing.js';
import { openStore } from './store/open.js';
import { registerOutboxMetrics } from './outbox/metrics.js';
import { Relay } from './outbox/relay.js';
import { DEFAULT_RELAY_POLICY, type RelayPolicy } from './outbox/retry-schedule.js';
import type { Store } from './store/store.js';

export interface GatewayDeps {
  logger: Logger;
  /** Where access-log lines go (default: `logger`); see createLoggers. */
  accessLogger?: Logger;
  clock?: Clock;
  random?: Random;
  /** How often to look for changes other processes made to the database. */
  pollMs?: number;
  /** How long a change waits for another process's write lock (default 5 s). */
  busyTimeoutMs?: number;
  /** The built dashboard the admin listener serves at /ui/ (default: dist/ui next to the code). */
  uiDir?: string;
  /** How the outbox relay retries webhooks (outbox/retry-schedule.ts); tests shorten it. */
  relayPolicy?: Partial<RelayPolicy>;
}

export interface Gateway {
  /** Where the data plane listens, e.g. http://127.0.0.1:8080. */
  readonly proxyUrl: string;
  /** Where the admin API listens. */
  readonly adminUrl: string;
  readonly store: Store;
  readonly routes: LiveRoutes;
  /** Drains in-flight requests (up to the grace period), then closes listeners, pools and the database. */
  close(): Promise<void>;
}

/** Opens the route database, then starts the data plane and the admin API. */
export async function startGateway(config: ServeConfig, deps: GatewayDeps): Promise<Gateway> {
  const { logger } = deps;
  const clock = deps.clock ?? systemClock;
  const store = await openStore(config.db, {
    clock,
    random: deps.random,
    logger: logger.child({ component: 'store' }),
    busyTimeoutMs: deps.busyTimeoutMs,
    poolSize: config.dbPoolSize,
    statementTimeoutMs: config.dbStatementTimeoutMs,
  });
  try {
    await store.backends.ensureDefaults(
      { legacy: { url: config.legacy, maxInFlight: config.legacyMaxInFlight }, modern: { url: config.modern, maxInFlight: config.modernMaxInFlight } },
      { actor: 'serve', reason: 'start-up flags' },
    );
    await store.outbox.ensureWebhooks(config.webhook, new Date(clock.now()).toISOString());
  } catch (err) {
    await store.close();
    throw err;
  }
  const backends = new LiveBackends(clock, logger.child({ component: 'backends' }));
  const routes = await LiveRoutes.start(store, backends, logger.child({ component: 'routes' }), deps.pollMs);
  const breakers = new BreakerRegistry(clock, logger.child({ component: 'breaker' }));
  const random = deps.random ?? systemRandom;
  const shadow = new Shadowing({
    backends,
    store: store.shadow,
    clock,
    random,
    logger: logger.child({ component: 'shadow' }),
    exists: (id) => routes.current.get(id) !== undefined,
  });
  // Results are written in batches, never per request.
  const shadowFlush = setInterval(() => void shadow.flush(), FLUSH_MS);
  shadowFlush.unref();
  const metrics = new GatewayMetrics({ routes, breakers, backends, clock, shadow });
  const relay = new Relay({
    outbox: store.outbox,
    onChange: (listener) => store.onChange(listener),
    clock,
    random,
    logger: logger.child({ component: 'outbox' }),
    policy: { ...DEFAULT_RELAY_POLICY, ...deps.relayPolicy },
    owner: `${hostname()}:${process.pid}`,
    attempted: registerOutboxMetrics(metrics.registry, store.outbox),
  });
  const traffic = new TrafficWindow(clock);
  const stepCounter = new StepCounter();
  const fallbacks = new FallbackLedger(store.rollouts, clock);
  const fallbackFlush = setInterval(() => void fallbacks.flush().catch((err: unknown) => logger.warn({ err }, 'fallback times not written; retrying')), FALLBACK_FLUSH_MS);
  fallbackFlush.unref();
  const rollouts = new RolloutDriver(
    { store, counter: stepCounter, clock, logger: logger.child({ component: 'rollout' }), shadowSummary: async (id) => (await shadow.summaries([id])).get(id) },
    `${hostname()}:${process.pid}`,
  );
  // Percentile-based hedge delays are computed here, once a second, never on the request path.
  const hedging = new HedgeDelays(traffic);
  // Only routes with recorded modern tries (those hedging on a percentile), never the whole table.
  const hedgeRefresh = setInterval(() => hedging.refresh([...traffic.modernTryRouteIds()].flatMap((id) => routes.current.get(id) ?? [])), HEDGE_REFRESH_MS);
  hedgeRefresh.unref();
  const proxy = new ProxyServer({
    routes,
    backends,
    breakers,
    hedging,
    observer: {
      finished: (sample) => {
        metrics.record(sample);
        traffic.record(sample);
        stepCounter.record(sample);
        fallbacks.record(sample);
      },
      refused: (code) => metrics.recordRefused(code),
    },
    clock,
    logger: logger.child({ component: 'proxy' }),
    accessLogger: config.accessLog === 'on' ? (deps.accessLogger ?? logger).child({ component: 'access' }) : undefined,
    random,
    shadow,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    limits: config,
    trustedProxies: TrustedProxies.parse(config.trustProxy),
  });
  let draining = false;
  const admin = await buildAdminApp({
    store,
    routes,
    backends,
    breakers,
    metrics,
    traffic,
    shadow,
    logger: logger.child({ component: 'admin' }),
    token: config.adminToken,
    allowedHosts: allowedHostnames(config.adminHost, config.adminAllowedHosts),
    isDraining: () => draining,
    clock,
    rollouts,
    fallbacks,
    uiDir: deps.uiDir,
  });
  try {
    await proxy.listen(config.port, config.host);
    await admin.listen({ port: config.adminPort, host: config.adminHost });
  } catch (err) {
    await Promise.allSettled([proxy.close(0), admin.close()]);
    clearInterval(hedgeRefresh);
    clearInterval(shadowFlush);
    clearInterval(fallbackFlush);
    rollouts.stop();
    routes.stop();
    await store.close();
    await backends.destroy();
    throw err;
  }
  // Started once serving: it delivers what a previous process left undelivered, then each new event.
  relay.start();
  const proxyUrl = urlOf(proxy.server.address() as AddressInfo);
  const adminUrl = urlOf(admin.server.address() as AddressInfo);
  const urls = Object.fromEntries(backends.list().map((b) => [b.name, b.backend.url]));
  // bin/strangler starts Node with --single-threaded on one CPU (README, "One CPU"); this line says which it got.
  const singleThreaded = process.execArgv.includes('--single-threaded');
  logger.info({ proxy: proxyUrl, admin: adminUrl, backends: urls, routes: routes.current.size, store: store.location, singleThreaded }, 'gateway listening');

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      // Readiness goes false first, so a load balancer stops sending before the listener closes.
      draining = true;
      await proxy.close(config.shutdownGraceMs);
      await admin.close();
      clearInterval(hedgeRefresh);
      clearInterval(shadowFlush);
      clearInterval(fallbackFlush);
      rollouts.stop();
      await fallbacks.flush().catch((err: unknown) => logger.warn({ err }, 'fallback times not written at shutdown'));
      await relay.close();
      await shadow.close();
      routes.stop();
      await store.close();
      logger.info('gateway stopped');
    })());
  return { proxyUrl, adminUrl, store, routes, close };
}

function urlOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}
