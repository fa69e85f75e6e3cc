import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import { GatewayError, errorJson, isGatewayError, type ErrorCode } from '../errors.js';
import type { GatewayMetrics } from '../observe/metrics.js';
import type { TrafficWindow } from '../observe/traffic-window.js';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import type { LiveRoutes } from '../routing/live-routes.js';
import type { Store } from '../store/store.js';
import type { LiveBackends } from '../backends/live-backends.js';
import type { Shadowing } from '../shadow/shadowing.js';
import { packageVersion } from '../version.js';
import { registerApply } from './apply.js';
import { registerBackends } from './backends.js';
import { registerBreakers } from './breakers.js';
import { checkHost } from './host-check.js';
import { registerHealth } from './health.js';
import { registerMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { registerOutbox } from './outbox.js';
import { registerRoutes } from './routes.js';
import { registerShadow } from './shadow.js';
import { registerStage } from './stage.js';
import { registerRollout } from './rollout.js';
import type { RolloutDriver } from '../rollout/driver.js';
import type { FallbackLedger } from '../rollout/fallback-ledger.js';
import { systemClock, type Clock } from '../clock.js';
import { registerStatus } from './status.js';
import { isUiRoute, registerUi } from './ui.js';
import { isSqliteBusy } from '../store/sqlite-no-wait.js';

export interface AdminOptions {
  store: Store;
  routes: LiveRoutes;
  backends: LiveBackends;
  breakers: BreakerRegistry;
  metrics: GatewayMetrics;
  traffic: TrafficWindow;
  /** Shadow mode's results (read from the store, shared by the gateways on it). */
  shadow: Pick<Shadowing, 'report' | 'clear' | 'summaries'>;
  logger: Logger;
  /** When set, every call but the health probes, the API description and the dashboard's files needs `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** The host names `Host` may carry (DNS rebinding defence); see allowedHostnames. */
  allowedHosts: ReadonlySet<string> | 'any';
  isDraining: () => boolean;
  /** Each route's latest fallback on any gateway: what the retire rule reads. */
  fallbacks: FallbackLedger;
  /** The rollouts this gateway drives; without it the rollout endpoints are not served. */
  rollouts?: RolloutDriver | undefined;
  /** Time for the lifecycle rules (the retire delay); the system clock by default. */
  clock?: Clock | undefined;
  /** The built dashboard (dist/ui); by default found next to the code. */
  uiDir?: string | undefined;
}

const BODY_LIMIT = 64 * 1024; // route changes are small; anything larger is a mistake or an attack
// The probes reveal nothing; the API description is what the README already publishes.
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/openapi.json', '/docs']);

/** The admin API: its own fastify instance on its own listener, JSON in and out. */
export async function buildAdminApp(options: AdminOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Route changes get one audit line each; per-request noise would bury them.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    // Errors fastify raises before routing (a malformed URL, an over-long parameter) keep our shape.
    frameworkErrors: (err, _request, reply) => sendErrorReply(reply, err),
  });
  // JSON only: without this, a text/plain body would reach the handlers as a string.
  app.removeContentTypeParser('text/plain');

  app.addHook('onRequest', async (request) => {
    // Probes stay open: they reveal nothing, and load balancers send whatever Host they like.
    if (!OPEN_PATHS.has(request.url.split('?')[0]!)) checkHost(request.headers.host, options.allowedHosts);
  });
  if (options.token !== undefined) app.addHook('onRequest', bearerAuth(options.token));
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (toErrorResponse(err).status >= 500) request.log.error({ err }, 'admin request failed');
    return sendErrorReply(reply, err);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/json; charset=utf-8')
      .send(errorJson('NOT_FOUND', `no endpoint ${request.method} ${request.url.split('?')[0]}`)),
  );

  registerEndpoints(app, options);
  registerUi(app, options.uiDir);
  await app.ready();
  return app;
}

/** Every admin endpoint; each one is listed in the OpenAPI document (openapi.ts). */
export function registerEndpoints(app: FastifyInstance, options: AdminOptions): void {
  registerHealth(app, options);
  registerRoutes(app, options);
  registerShadow(app, options);
  registerStage(app, options, () => (options.clock ?? systemClock).now());
  if (options.rollouts !== undefined) registerRollout(app, options.rollouts);
  registerBackends(app, options);
  registerApply(app, options);
  registerOutbox(app, options);
  registerBreakers(app, options);
  registerStatus(app, options);
  registerMetrics(app, options);
  registerOpenApi(app, packageVersion());
}

function bearerAuth(token: string) {
  const expected = digest(token);
  return async (request: FastifyRequest) => {
    // The dashboard's files are exempt by the route they matched, never by a prefix of the raw URL.
    if (OPEN_PATHS.has(request.url.split('?')[0]!) || isUiRoute(request.routeOptions.url)) return;
    const header = request.headers.authorization;
    const given = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    // Compare fixed-length digests so the time taken says nothing about the token.
    if (given === undefined || !timingSafeEqual(digest(given), expected)) throw new GatewayError('UNAUTHORIZED');
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Fastify's own errors (bad JSON, wrong content type, oversized body) mapped onto our codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_BAD_URL: 'BAD_REQUEST_TARGET',
};

function sendErrorReply(reply: FastifyReply, err: FastifyError): FastifyReply {
  const { status, body } = toErrorResponse(err);
  if (status === 503) reply.header('retry-after', '1');
  return reply.code(status).type('application/json; charset=utf-8').send(body);
}

function toErrorResponse(err: FastifyError): { status: number; body: string } {
  if (isGatewayError(err)) return { status: err.status, body: JSON.stringify(err.toJSON()) };
  // SQLite's "another writer held the lock for the whole busy timeout": nothing was written, retry.
  if (isSqliteBusy(err)) return { status: 503, body: errorJson('DB_BUSY') };
  const mapped = FASTIFY_CODES[err.code] ?? (err instanceof SyntaxError ? 'INVALID_JSON' : undefined);
  if (mapped !== undefined) {
    const e = new GatewayError(mapped, err.message);
    return { status: e.status, body: JSON.stringify(e.toJSON()) };
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, body: errorJson('VALIDATION_FAILED', err.message) };
  }
  return { status: 500, body: errorJson('INTERNAL') };
}
