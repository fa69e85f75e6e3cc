import type { FastifyInstance } from 'fastify';
import type { AdminOptions } from './server.js';

/** `GET /metrics`: Prometheus text exposition, behind the same token as the rest of the API. */
export function registerMetrics(app: FastifyInstance, { routes, metrics }: AdminOptions): void {
  app.get('/metrics', async (_request, reply) => {
    const table = routes.current;
    const body = await metrics.exposition((id) => id === 'default' || table.get(id) !== undefined);
    return reply.type(metrics.contentType).send(body);
  });
}
