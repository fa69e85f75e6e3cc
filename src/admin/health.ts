import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { errorJson } from '../errors.js';
import type { AdminOptions } from './server.js';

export const Healthz = z.object({ status: z.literal('ok') });
/**
 * Ready once the table is loaded. `store: degraded` means the database cannot be reached: the
 * gateway keeps serving the table it has (so it stays ready) while writes answer 503.
 */
export const Readyz = z.object({
  status: z.literal('ready'),
  routes: z.number().int().min(0),
  store: z.enum(['ok', 'degraded']),
  storeReason: z.string().optional(),
});

/** Liveness and readiness probes; open without a token because they reveal nothing. */
export function registerHealth(app: FastifyInstance, options: AdminOptions): void {
  app.get('/healthz', async (): Promise<z.infer<typeof Healthz>> => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const reasons: string[] = [];
    if (options.isDraining()) reasons.push('shutting down');
    if (!options.store.isOpen) reasons.push('route database closed');
    if (!options.routes.ready) reasons.push('routes not loaded');
    if (reasons.length > 0) {
      return reply.code(503).type('application/json; charset=utf-8').send(errorJson('NOT_READY', reasons.join('; ')));
    }
    const health = options.store.health;
    const ready: z.infer<typeof Readyz> = { status: 'ready', routes: options.routes.current.size, store: health.state };
    if (health.state === 'degraded') ready.storeReason = health.reason;
    return ready;
  });
}
