import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { refuseStageMove, type Stage } from '../rollout/stage.js';
import { retiredResilience } from '../routing/lifecycle.js';
import { RouteId, RouteStageMove, type HistoryEntry } from '../routing/schema.js';
import type { RouteChanges } from '../routing/store.js';
import { parseOrThrow } from '../validation.js';
import { changeMeta } from './routes.js';
import type { AdminOptions } from './server.js';

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * `POST /routes/:id/stage`: moves a route along its lifecycle under the stage rules
 * (rollout/stage.ts). One history row (action `stage`), its reason saying when `force` was used.
 * Retiring also turns every way back to legacy off (fallback, fall-through, hedging).
 */
export function registerStage(app: FastifyInstance, { store, fallbacks, logger }: AdminOptions, now: () => number): void {
  app.post('/routes/:id/stage', async (request: IdRequest) => {
    const { stage, force, version, reason } = parseOrThrow(RouteStageMove, request.body);
    const id = request.params.id;
    const route = RouteId.safeParse(id).success ? await store.get(id) : undefined;
    if (route === undefined) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${id}"`);
    const facts = { modernSince: modernSince(await store.history(id)), lastFallbackAt: await fallbacks.lastAt(id), retireAfterMs: route.retireAfterMs };
    const refusal = refuseStageMove(route.stage, stage, force, facts, now());
    if (refusal !== undefined) throw new GatewayError(refusal.code, refusal.message);
    const said = `stage ${route.stage} → ${stage}${force ? ' (force)' : ''}`;
    const meta = changeMeta(request, reason === undefined ? said : `${said}: ${reason}`, version);
    const changes: RouteChanges = { stage, ...(stage === 'retired' && { resilience: retiredResilience(route.resilience) }) };
    const changed = await store.update(id, changes, { ...meta, expectedVersion: meta.expectedVersion ?? route.version }, 'stage');
    logger.info({ reqId: request.id, route: id, version: changed.version, actor: meta.actor, from: route.stage, to: stage, force }, 'route stage changed');
    return changed;
  });
}

/** When the route entered the stage it is in now, if that is `modern`: the oldest of its latest run of rows in modern. */
export function modernSince(history: readonly HistoryEntry[]): number | null {
  let since: number | null = null;
  for (const entry of history) {
    const stage: Stage | undefined = entry.after?.stage;
    if (stage !== 'modern') break;
    since = Date.parse(entry.at);
  }
  return since;
}
