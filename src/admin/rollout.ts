import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { RolloutDriver } from '../rollout/driver.js';
import { RolloutPlan } from '../rollout/plan.js';
import { RouteId } from '../routing/schema.js';
import { parseOrThrow } from '../validation.js';
import { changeMeta } from './routes.js';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

/** `POST /routes/:id/rollout`: the plan (else the route's saved one, else the defaults), and `force` for a start from legacy. */
export const RolloutStart = z.object({ plan: RolloutPlan.optional(), force: z.boolean().default(false) }).strict();

/** The rollout endpoints: start, status, pause, resume, abort (rollout/driver.ts). */
export function registerRollout(app: FastifyInstance, driver: RolloutDriver): void {
  const id = (request: IdRequest) => {
    if (!RouteId.safeParse(request.params.id).success) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${request.params.id}"`);
    return request.params.id;
  };
  app.post('/routes/:id/rollout', async (request: IdRequest) => {
    const { plan, force } = parseOrThrow(RolloutStart, request.body ?? {});
    return driver.start(id(request), plan, force, changeMeta(request, undefined, undefined).actor);
  });
  app.get('/routes/:id/rollout', async (request: IdRequest) => driver.view(id(request)));
  app.post('/routes/:id/rollout/pause', async (request: IdRequest) => driver.pause(id(request)));
  app.post('/routes/:id/rollout/resume', async (request: IdRequest) => driver.resume(id(request)));
  app.post('/routes/:id/rollout/abort', async (request: IdRequest) => driver.abort(id(request), changeMeta(request, undefined, undefined).actor));
}
