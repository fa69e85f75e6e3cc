import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import {
  RouteCreate,
  RouteDelete,
  RouteFlip,
  RouteId,
  RoutePatch,
  RouteRollback,
  type ChangeMeta,
  type Route,
} from '../routing/schema.js';
import { nextCursor, pageQuery } from './paging.js';
import type { AdminOptions } from './server.js';
import { parseOrThrow } from '../validation.js';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

const ACTOR = /^[\x20-\x7e]{1,128}$/;

/**
 * The route resource: CRUD plus actions as sub-resources (flip, rollback, history).
 * Every change is one store transaction with its history row, and takes effect on live
 * traffic as soon as it commits.
 */
export function registerRoutes(app: FastifyInstance, { store, logger }: AdminOptions): void {
  const audit = (request: FastifyRequest, action: string, route: Route, meta: ChangeMeta) =>
    logger.info(
      { reqId: request.id, action, route: route.id, version: route.version, actor: meta.actor, reason: meta.reason },
      'route changed',
    );

  app.get('/routes', async (request) => {
    const { limit, after } = pageQuery(request.query);
    const routes = await store.page(limit, after);
    return { routes, next: nextCursor(routes, limit, (r) => r.pathPrefix) };
  });

  app.post('/routes', async (request, reply) => {
    const input = parseOrThrow(RouteCreate, request.body);
    const meta = changeMeta(request, input.reason, undefined);
    const route = await store.create(input, meta);
    audit(request, 'create', route, meta);
    return sendRoute(reply.code(201).header('location', `/routes/${route.id}`), route);
  });

  app.get('/routes/:id', async (request: IdRequest, reply) => {
    const route = await store.get(routeId(request));
    if (route === undefined) throw notFound(request);
    return sendRoute(reply, route);
  });

  app.patch('/routes/:id', async (request: IdRequest, reply) => {
    const { version, reason, ...changes } = parseOrThrow(RoutePatch, request.body);
    const meta = changeMeta(request, reason, version);
    const route = await store.update(routeId(request), changes, meta);
    audit(request, 'update', route, meta);
    return sendRoute(reply, route);
  });

  app.delete('/routes/:id', async (request: IdRequest, reply) => {
    const { version, reason } = parseOrThrow(RouteDelete, request.body ?? {});
    const meta = changeMeta(request, reason, version);
    const route = await store.delete(routeId(request), meta);
    audit(request, 'delete', route, meta);
    return reply.code(204).send();
  });

  app.post('/routes/:id/flip', async (request: IdRequest, reply) => {
    const { to, version, reason } = parseOrThrow(RouteFlip, request.body);
    const meta = changeMeta(request, reason, version);
    const route = await store.update(routeId(request), { mode: to }, meta, 'flip');
    audit(request, 'flip', route, meta);
    return sendRoute(reply, route);
  });

  app.post('/routes/:id/rollback', async (request: IdRequest, reply) => {
    const { toVersion, version, reason } = parseOrThrow(RouteRollback, request.body ?? {});
    const meta = changeMeta(request, reason, version);
    const route = await store.rollback(routeId(request), toVersion, meta);
    audit(request, 'rollback', route, meta);
    return sendRoute(reply, route);
  });

  app.get('/routes/:id/history', async (request: IdRequest) => ({ history: await store.history(routeId(request)) }));
}

function sendRoute(reply: FastifyReply, route: Route): Route {
  reply.header('etag', `"${route.version}"`);
  return route;
}

function routeId(request: IdRequest): string {
  if (!RouteId.safeParse(request.params.id).success) throw notFound(request);
  return request.params.id;
}

function notFound(request: IdRequest): GatewayError {
  return new GatewayError('ROUTE_NOT_FOUND', `no route "${request.params.id}"`);
}

/** Who is changing what, and which version they believe they are changing. */
export function changeMeta(request: FastifyRequest, reason: string | undefined, bodyVersion: number | undefined): ChangeMeta {
  const actorHeader = request.headers['x-actor'];
  if (actorHeader !== undefined && (typeof actorHeader !== 'string' || !ACTOR.test(actorHeader))) {
    throw new GatewayError('VALIDATION_FAILED', 'X-Actor: must be 1-128 printable ASCII characters');
  }
  const headerVersion = ifMatchVersion(request.headers['if-match']);
  if (headerVersion !== undefined && bodyVersion !== undefined && headerVersion !== bodyVersion) {
    throw new GatewayError('VALIDATION_FAILED', `If-Match (${headerVersion}) and version (${bodyVersion}) disagree`);
  }
  return { actor: actorHeader ?? 'anonymous', reason, expectedVersion: bodyVersion ?? headerVersion };
}

/** Reads `If-Match: "3"` (also `W/"3"` or `3`); `*` means any version. */
function ifMatchVersion(header: string | string[] | undefined): number | undefined {
  if (header === undefined || header === '*') return undefined;
  const match = typeof header === 'string' ? /^(?:W\/)?"?([1-9][0-9]{0,14})"?$/.exec(header.trim()) : null;
  if (match === null) throw new GatewayError('VALIDATION_FAILED', 'If-Match: must be a route version such as "3"');
  return Number(match[1]);
}
