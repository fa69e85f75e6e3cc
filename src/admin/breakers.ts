import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { BreakerSnapshot } from '../resilience/breaker.js';
import { PathPrefix, RouteId, type Route } from '../routing/schema.js';
import { nextCursor, pageQuery } from './paging.js';
import type { AdminOptions } from './server.js';

const NEVER_USED: BreakerSnapshot = {
  state: 'closed',
  failureRatePercent: 0,
  callsInWindow: 0,
  failuresInWindow: 0,
  lastTransitionAt: 0,
  nextProbeAt: null,
};

/** One route's modern-side breaker as `GET /breakers` shows it. */
export const BreakerView = z.object({
  routeId: RouteId,
  pathPrefix: PathPrefix,
  state: z.enum(['closed', 'open', 'half-open']),
  failureRatePercent: z.number(),
  callsInWindow: z.number().int(),
  failuresInWindow: z.number().int(),
  lastTransitionAt: z.string().nullable(),
  nextProbeAt: z.string().nullable(),
});
export type BreakerView = z.infer<typeof BreakerView>;

/** The modern-side breakers: what each route's is doing, and a way to close one by hand. */
export function registerBreakers(app: FastifyInstance, { store, routes, breakers }: AdminOptions): void {
  const view = (route: Route): BreakerView => {
    const snapshot = breakers.snapshot(route.id) ?? NEVER_USED;
    return {
      routeId: route.id,
      pathPrefix: route.pathPrefix,
      state: snapshot.state,
      failureRatePercent: snapshot.failureRatePercent,
      callsInWindow: snapshot.callsInWindow,
      failuresInWindow: snapshot.failuresInWindow,
      lastTransitionAt: snapshot.lastTransitionAt === 0 ? null : new Date(snapshot.lastTransitionAt).toISOString(),
      nextProbeAt: snapshot.nextProbeAt === null ? null : new Date(snapshot.nextProbeAt).toISOString(),
    };
  };

  app.get('/breakers', async (request) => {
    const { limit, after } = pageQuery(request.query);
    const page = await store.page(limit, after);
    return { breakers: page.map(view), next: nextCursor(page, limit, (r) => r.pathPrefix) };
  });

  app.post('/breakers/:routeId/reset', async (request: FastifyRequest<{ Params: { routeId: string } }>) => {
    const route = routes.current.get(request.params.routeId);
    if (route === undefined) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${request.params.routeId}"`);
    breakers.reset(route.id);
    request.log.info({ reqId: request.id, route: route.id, actor: request.headers['x-actor'] ?? 'anonymous' }, 'breaker reset');
    return view(route);
  });
}
