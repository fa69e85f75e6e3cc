import type { FastifyInstance } from 'fastify';
import { errorJson } from '../errors.js';
import type { AdminOptions } from './server.js';

/** Liveness and readiness probes; open without a token because they reveal nothing. */
export function registerHealth(app: FastifyInstance, options: AdminOptions): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const reasons: string[] = [];
    if (options.isDraining()) reasons.push('shutting down');
    if (!options.store.isOpen) reasons.push('route database closed');
    if (!options.routes.ready) reasons.push('routes not loaded');
    if (reasons.length > 0) {
      return reply.code(503).type('application/json; charset=utf-8').send(errorJson('NOT_READY', reasons.join('; ')));
    }
    return { status: 'ready', routes: options.routes.current.size };
  });
}
