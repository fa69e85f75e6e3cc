import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { RouteId } from '../routing/schema.js';
import type { AdminOptions } from './server.js';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * `GET /routes/:id/shadow`: what shadow mode found on a route (counts, match rate, latencies,
 * the paths that differ most, the newest samples), across every gateway on the database;
 * `DELETE` starts the counts over.
 */
export function registerShadow(app: FastifyInstance, { store, shadow }: AdminOptions): void {
  const route = async (request: IdRequest) => {
    const found = RouteId.safeParse(request.params.id).success ? await store.get(request.params.id) : undefined;
    if (found === undefined) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${request.params.id}"`);
    return found;
  };

  app.get('/routes/:id/shadow', async (request: IdRequest) => shadow.report(await route(request)));

  app.delete('/routes/:id/shadow', async (request: IdRequest, reply) => {
    const { id } = await route(request);
    await shadow.clear(id);
    request.log.info({ reqId: request.id, route: id, actor: request.headers['x-actor'] ?? 'anonymous' }, 'shadow results cleared');
    return reply.code(204).send();
  });
}
