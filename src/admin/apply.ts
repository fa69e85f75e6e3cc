import type { FastifyInstance } from 'fastify';
import { desiredBackend } from '../backends/plan.js';
import { ApplyRequest, desiredRoute, parseRouteFile } from '../routing/route-file.js';
import type { ApplyResult } from '../routing/plan.js';
import { changeMeta } from './routes.js';
import type { AdminOptions } from './server.js';

/** Route files can list thousands of routes, unlike single changes (64 KiB). */
export const APPLY_BODY_LIMIT = 8 * 1024 * 1024;

/**
 * `POST /apply`: the declarative side of the API (`strangler apply -f routes.yaml`). The server
 * recomputes the plan inside the transaction, so what it returns is exactly what it did.
 */
export function registerApply(app: FastifyInstance, { store, logger }: AdminOptions): void {
  app.post('/apply', { bodyLimit: APPLY_BODY_LIMIT }, async (request) => {
    const input = parseRouteFile(ApplyRequest, request.body);
    const meta = changeMeta(request, input.reason, undefined);
    const backends = input.backends?.map(desiredBackend);
    const plan = store.apply(input.routes.map(desiredRoute), { prune: input.prune, dryRun: input.dryRun, backends }, meta);
    if (!input.dryRun) {
      const who = { reqId: request.id, actor: meta.actor, reason: meta.reason };
      for (const change of plan.backends.changes) {
        if (change.action !== 'unchanged') logger.info({ ...who, action: `apply-${change.action}`, backend: change.name }, 'backend changed');
      }
      for (const change of plan.changes) {
        if (change.action !== 'unchanged') logger.info({ ...who, action: `apply-${change.action}`, route: change.id }, 'route changed');
      }
    }
    const result: ApplyResult = { applied: !input.dryRun, plan };
    return result;
  });
}
