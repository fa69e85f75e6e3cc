import type { FastifyInstance } from 'fastify';
import { AUDIT_NAMES, outcomeError } from '../store/apply-job.js';
import { changeMeta } from './routes.js';
import type { AdminOptions } from './server.js';

/**
 * Route files can list a million routes, unlike single changes (64 KiB): a file of that many
 * routes with every setting spelled out is about 550 MB of JSON.
 */
export const APPLY_BODY_LIMIT = 1024 * 1024 * 1024;

/**
 * `POST /apply`: the declarative side of the API (`strangler apply -f routes.yaml`). The server
 * recomputes the plan inside the transaction, so what it returns is exactly what it did. The
 * body reaches the handler as bytes: a large one is parsed, validated and written by a child
 * process, never on the event loop that serves traffic.
 */
export function registerApply(app: FastifyInstance, options: AdminOptions): void {
  const { store, logger } = options;
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: APPLY_BODY_LIMIT }, (_request, body, done) => done(null, body));
    scope.post('/apply', { bodyLimit: APPLY_BODY_LIMIT }, async (request, reply) => {
      const meta = changeMeta(request, undefined, undefined);
      const outcome = await store.applyFile({ body: request.body as Buffer, meta });
      if (!outcome.ok) throw outcomeError(outcome);
      const who = { reqId: request.id, actor: meta.actor };
      const { changed } = outcome;
      if (changed.routes + changed.backends <= AUDIT_NAMES) {
        for (const name of changed.backendNames) logger.info({ ...who, action: 'apply', backend: name }, 'backend changed');
        for (const id of changed.routeIds) logger.info({ ...who, action: 'apply', route: id }, 'route changed');
      } else {
        // A large file is one audit line (the history has a row per change), not a line per route.
        logger.info({ ...who, action: 'apply', routes: changed.routes, backends: changed.backends, firstRoutes: changed.routeIds }, 'routes changed');
      }
      const json = outcome.json;
      return reply.type('application/json; charset=utf-8').send(Buffer.from(json.buffer, json.byteOffset, json.byteLength));
    });
  });
}
