/**
 * The configurations under test. Each starts its proxy in its own process (pinned to the proxy
 * CPU), checks that requests really take the intended path, and says how to stop it.
 * All of them forward to the same backend process, except shadow mode's copies (see gw-shadow).
 */
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { USERS } from './load.js';
import {
  benchScript,
  freePort,
  probe,
  startChild,
  stopChild,
  waitFor,
  waitForLine,
  type Child,
  type Placement,
} from './procs.js';
import { startModern, type ShadowModern } from './modern.js';
import { nginxMissing, startNginx } from './nginx.js';
import type { CopyCounts } from './report.js';
import { CANARY_ROUTE, LEGACY_ROUTE, ONE_ROUTE, SHADOW_ROUTE, manyRoutes, seedDatabase } from './seed.js';

export interface Context {
  backendUrl: string;
  /** Temp dir for databases, logs and nginx's files; removed by the caller. */
  tmp: string;
  placement: Placement;
  /** Node options for gateway processes (the profiler, --gateway-node-args): then run as `node <these> bin/strangler.js`. */
  gatewayNodeArgs?: string[];
  /** Where a gateway's modern side goes, when not to the shared backend. */
  modernUrl?: string;
  /** What stands in for shadow mode's modern (modern.ts). */
  shadowModern: ShadowModern;
}

/** A running proxy (or, for "direct", just the backend's address). */
export interface Target {
  /** Base URL requests are sent to. */
  url: string;
  /** The process whose memory is reported; undefined for "direct". */
  pid: number | undefined;
  /** Where the proxy's access log goes, when it writes one. */
  logFile?: string;
  stop(): Promise<void>;
}

export type ConfigKey = 'direct' | 'floor' | 'bare' | 'nginx' | 'gw-1' | 'gw-10k' | 'gw-canary' | 'gw-legacy' | 'gw-twin' | 'gw-shadow';

export interface BenchConfig {
  key: ConfigKey;
  label: string;
  /** Path of the ~100-byte JSON response. */
  smallPath: string;
  /** Path of the 1 MiB response. */
  largePath: string;
  isGateway: boolean;
  /** Why this configuration cannot run here, if it cannot. */
  skipReason?(): string | undefined;
  start(ctx: Context): Promise<Target>;
  /** Throws unless requests are served the way this configuration claims to serve them. */
  verify?(target: Target): Promise<void>;
  /** Shadow mode: the copies the gateway compared and skipped so far. */
  copies?(target: Target): Promise<CopyCounts>;
}

/** The ~100-byte body the backend answers (see backend.ts): a quick sanity check of any proxy. */
async function expectSmall(url: string, headers: Record<string, string> = {}) {
  const res = await probe(url, headers);
  if (res.status !== 200) throw new Error(`GET ${url}: status ${res.status}: ${res.body.slice(0, 200)}`);
  if (!res.body.startsWith('{"id":1')) throw new Error(`GET ${url}: unexpected body ${res.body.slice(0, 200)}`);
  return res;
}

const direct: BenchConfig = {
  key: 'direct',
  label: 'direct (no proxy)',
  smallPath: '/api/items/1',
  largePath: '/api/1mb',
  isGateway: false,
  async start(ctx) {
    return { url: ctx.backendUrl, pid: undefined, stop: async () => {} };
  },
};

/** A baseline proxy script of ours (`bench/<script>.ts`) in its own process on the proxy CPU. */
function scriptProxy(key: ConfigKey, label: string, script: string): BenchConfig {
  return {
    key,
    label,
    smallPath: '/api/items/1',
    largePath: '/api/1mb',
    isGateway: false,
    async start(ctx) {
      const { command, args } = benchScript(script);
      const child = startChild(label, command, [...args, ctx.backendUrl, '0'], { cpu: ctx.placement.proxyCpu, stdout: 'pipe' });
      const port = (await waitForLine(child, 'READY ')).split(' ')[1];
      return { url: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => stopChild(child) };
    },
  };
}

const bare = scriptProxy('bare', 'bare proxy (@fastify/http-proxy)', 'bare-proxy');

/** The runtime's floor: node:http into an undici Pool with pool.stream(), hop-by-hop headers stripped, nothing else. */
const floor = scriptProxy('floor', 'node floor (node:http + undici Pool)', 'node-floor');

/**
 * nginx as the reference C proxy, configured the way one would in production for a keep-alive
 * backend. Everything it writes (pid, logs, temp files) stays in the bench's temp dir.
 */
const nginx: BenchConfig = {
  key: 'nginx',
  label: 'nginx (keep-alive upstream)',
  smallPath: '/api/items/1',
  largePath: '/api/1mb',
  isGateway: false,
  skipReason: nginxMissing,
  async start(ctx) {
    const backend = new URL(ctx.backendUrl);
    const proxy = await startNginx('nginx', ctx.tmp, {
      cpu: ctx.placement.proxyCpu,
      http: (port, dir) => proxyConf(dir, port, backend.host),
      ready: async (url) => (await probe(url + '/api/items/1')).status === 200,
    });
    return { url: proxy.url, pid: proxy.child.pid, logFile: join(proxy.dir, 'access.log'), stop: proxy.stop };
  },
};

function proxyConf(dir: string, port: number, backendHost: string): string {
  return `  # An access log, like the gateway's (buffered, as one would run it).
  access_log ${dir}/access.log combined buffer=64k flush=1s;
  upstream backend {
    server ${backendHost};
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # Stream bodies through as the gateway and the bare proxy do, rather than spooling to temp files.
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }`;
}

interface GatewayOptions {
  key: ConfigKey;
  label: string;
  routes: Parameters<typeof seedDatabase>[1];
  smallPath: string;
  largePath: string;
  verify(target: Target): Promise<void>;
  copies?: BenchConfig['copies'];
  /** Modern is a stand-in of its own at idle priority (a service on other hosts, modern.ts), not the shared backend. */
  ownModern?: boolean;
}

/**
 * The gateway as it ships: the built CLI (`bin/strangler serve`), on a route database
 * seeded before it starts, at log level info (JSON access log per request, to a file).
 */
function gateway(options: GatewayOptions): BenchConfig {
  return {
    key: options.key,
    label: options.label,
    smallPath: options.smallPath,
    largePath: options.largePath,
    isGateway: true,
    verify: options.verify,
    copies: options.copies,
    async start(ctx) {
      const db = join(ctx.tmp, `${options.key}.db`);
      seedDatabase(db, options.routes);
      const modern = options.ownModern ? await startModern(ctx.shadowModern, ctx.placement, ctx.tmp, `modern for ${options.key}`) : undefined;
      const target = await startGatewayRetried({ ...ctx, modernUrl: modern?.url }, options.key, db, options.routes.length);
      return modern === undefined ? target : { ...target, stop: () => target.stop().finally(() => modern.stop()) };
    },
  };
}

/** The CLI cannot report an ephemeral port, so it is given free ones; retried once if one was taken meanwhile. */
async function startGatewayRetried(ctx: Context, key: string, db: string, routeCount: number): Promise<Target & { adminUrl: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startGateway(ctx, key, db, routeCount);
    } catch (err) {
      if (attempt >= 2 || !/cannot listen|EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

/**
 * How a gateway is started, before `serve`: as it ships, bin/strangler, which on one CPU (the
 * bench pins gateways to one) starts Node with --single-threaded; with --gateway-node-args,
 * node with exactly those options instead.
 */
export function gatewayCommand(nodeArgs: readonly string[] | undefined): string[] {
  return nodeArgs === undefined ? ['bin/strangler'] : ['node', ...nodeArgs, 'bin/strangler.js'];
}

/** A gateway process on `db`, ready once `/readyz` reports `routeCount` routes; `logLevel` defaults to info (every feature on). */
export async function startGateway(ctx: Context, key: string, db: string, routeCount: number, logLevel = 'info', readyTimeoutMs = 20_000): Promise<Target & { adminUrl: string }> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const logFile = join(ctx.tmp, `${key}.log`);
  const fd = openSync(logFile, 'w');
  let child: Child;
  try {
    // stdout (the pino JSON log) goes to a file; stderr stays a pipe for startup errors.
    const [program, ...entry] = gatewayCommand(ctx.gatewayNodeArgs);
    child = startChild(
      `gateway ${key}`,
      program === 'node' ? process.execPath : program!,
      [
        ...entry,
        'serve',
        ...['--legacy', ctx.backendUrl, '--modern', ctx.modernUrl ?? ctx.backendUrl, '--db', db],
        ...['--port', String(port), '--host', '127.0.0.1'],
        ...['--admin-port', String(adminPort), '--admin-host', '127.0.0.1'],
        ...['--log-level', logLevel, '--shutdown-grace-ms', '2000'],
      ],
      { cpu: ctx.placement.proxyCpu, stdout: fd },
    );
  } finally {
    closeSync(fd); // the child has its own copy
  }
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  await waitFor(child, readyTimeoutMs, `readiness with ${routeCount} routes`, async () => {
    const res = await probe(`${adminUrl}/readyz`);
    const body = res.status === 200 ? (JSON.parse(res.body) as { routes: number }) : undefined;
    return body?.routes === routeCount ? true : undefined;
  });
  return { url: `http://127.0.0.1:${port}`, adminUrl, pid: child.pid, logFile, stop: () => stopChild(child) };
}

/** The route and side the gateway says it used (its x-strangler-* response headers). */
async function expectRoute(url: string, route: string, backend: string): Promise<void> {
  const res = await expectSmall(url, { 'x-user-id': 'user-1' });
  const got = `${res.headers['x-strangler-route']}/${res.headers['x-strangler-backend']}`;
  if (got !== `${route}/${backend}`) throw new Error(`GET ${url}: served by ${got}, expected ${route}/${backend}`);
}

const gw1 = gateway({
  key: 'gw-1',
  label: 'gateway, 1 route (modern)',
  routes: ONE_ROUTE,
  smallPath: '/api/items/1',
  largePath: '/api/1mb',
  verify: (t) => expectRoute(t.url + '/api/items/1', 'api', 'modern'),
});

const ROUTES_10K = 10_000;
const deep = `/svc/${ROUTES_10K - 1}/api`;
const gw10k = gateway({
  key: 'gw-10k',
  label: `gateway, ${ROUTES_10K.toLocaleString('en')} routes`,
  routes: manyRoutes(ROUTES_10K),
  smallPath: `${deep}/items/1`,
  largePath: `${deep}/1mb`,
  verify: (t) => expectRoute(`${t.url}${deep}/items/1`, `svc-${ROUTES_10K - 1}`, 'modern'),
});

const gwCanary = gateway({
  key: 'gw-canary',
  label: 'gateway, canary 50% (header:x-user-id)',
  routes: CANARY_ROUTE,
  smallPath: '/api/items/1',
  largePath: '/api/1mb',
  async verify(t) {
    // The users the load generators send must split between both sides, each user sticking to one.
    const sides = new Map<string, string>();
    for (let i = 1; i <= USERS; i++) {
      const headers = { 'x-user-id': `user-${i}` };
      const first = await expectSmall(t.url + '/api/items/1', headers);
      const again = await expectSmall(t.url + '/api/items/1', headers);
      const side = String(first.headers['x-strangler-backend']);
      if (again.headers['x-strangler-backend'] !== side) throw new Error(`user-${i} was not sticky`);
      sides.set(`user-${i}`, side);
    }
    const modern = [...sides.values()].filter((s) => s === 'modern').length;
    if (modern === 0 || modern === USERS) throw new Error(`canary sent ${modern}/${USERS} users to modern`);
  },
});

const gwLegacy = gateway({
  key: 'gw-legacy',
  label: 'gateway, 1 route (legacy)',
  routes: LEGACY_ROUTE,
  smallPath: '/api/items/1',
  largePath: '/api/1mb',
  verify: (t) => expectRoute(t.url + '/api/items/1', 'api', 'legacy'),
});

/**
 * A second gateway exactly like gw-legacy, in its own process: how far two identical
 * configurations' figures differ in one run is the noise the shadow A/B is judged against.
 */
const gwTwin = gateway({
  key: 'gw-twin',
  label: 'gateway, 1 route (legacy), a second identical process (the A/A twin)',
  routes: LEGACY_ROUTE,
  smallPath: '/api/items/1',
  largePath: '/api/1mb',
  verify: (t) => expectRoute(t.url + '/api/items/1', 'api', 'legacy'),
});

/**
 * The same route in shadow mode: the client's side should cost what legacy mode costs (the copy
 * runs in the background). Modern is a stand-in of its own at idle priority (modern.ts), for a
 * service on other hosts: on the shared backend, the copies' work would take the load generator's
 * and legacy's CPU and show up as client latency the gateway does not cause.
 */
const gwShadow = gateway({
  key: 'gw-shadow',
  label: 'gateway, 1 route (shadow, samplePercent 100: every request offered for a copy)',
  routes: SHADOW_ROUTE,
  ownModern: true,
  smallPath: '/api/items/1',
  largePath: '/api/1mb',
  async verify(t) {
    await expectRoute(t.url + '/api/items/1', 'api', 'legacy');
    for (let i = 0; ; i++) {
      const report = await shadowReport(t);
      if (report.matched > 0) return;
      if (i >= 50) throw new Error(`shadow mode compared nothing the same: ${JSON.stringify(report).slice(0, 300)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  },
  async copies(t) {
    const report = await shadowReport(t);
    return { compared: report.compared, skipped: report.skipped.total };
  },
});

async function shadowReport(t: Target): Promise<{ compared: number; matched: number; skipped: { total: number } }> {
  const res = await probe(`${(t as Target & { adminUrl: string }).adminUrl}/routes/api/shadow`);
  return JSON.parse(res.body) as { compared: number; matched: number; skipped: { total: number } };
}

export const CONFIGS: readonly BenchConfig[] = [direct, floor, bare, nginx, gw1, gw10k, gwCanary, gwLegacy, gwTwin, gwShadow];

export const GATEWAY_1_ROUTE = gw1;
