import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.js';
import { BackendCreate, BackendDelete, BackendName, BackendPatch, type Backend, type BackendView } from '../backends/schema.js';
import type { ChangeMeta } from '../routing/schema.js';
import { parseOrThrow } from '../validation.js';
import { changeMeta } from './routes.js';
import type { AdminOptions } from './server.js';

type NameRequest = FastifyRequest<{ Params: { name: string } }>;

/**
 * The backend resource: CRUD plus history, with the conventions of `/routes` (If-Match or
 * `version`, `reason`, `X-Actor`, one history row per change). A change is live on traffic as
 * soon as it commits; a URL change drains the old pool.
 */
export function registerBackends(app: FastifyInstance, { store, backends: live, logger }: AdminOptions): void {
  const audit = (request: FastifyRequest, action: string, backend: Backend, meta: ChangeMeta) =>
    logger.info(
      { reqId: request.id, action, backend: backend.name, version: backend.version, actor: meta.actor, reason: meta.reason },
      'backend changed',
    );
  const view = async (backend: Backend): Promise<BackendView> => ({
    ...backend,
    inFlight: live.get(backend.name)?.bulkhead.inFlight ?? 0,
    routes: await store.backends.usedBy(backend.name),
  });

  app.get('/backends', async () => ({ backends: await Promise.all((await store.backends.list()).map(view)) }));

  app.post('/backends', async (request, reply) => {
    const input = parseOrThrow(BackendCreate, request.body);
    const meta = changeMeta(request, input.reason, undefined);
    const backend = await store.backends.create(input, meta);
    audit(request, 'create', backend, meta);
    return send(reply.code(201).header('location', `/backends/${backend.name}`), await view(backend));
  });

  app.get('/backends/:name', async (request: NameRequest, reply) => {
    const backend = await store.backends.get(backendName(request));
    if (backend === undefined) throw notFound(request);
    return send(reply, await view(backend));
  });

  app.patch('/backends/:name', async (request: NameRequest, reply) => {
    const { version, reason, ...changes } = parseOrThrow(BackendPatch, request.body);
    const meta = changeMeta(request, reason, version);
    const backend = await store.backends.update(backendName(request), changes, meta);
    audit(request, 'update', backend, meta);
    return send(reply, await view(backend));
  });

  app.delete('/backends/:name', async (request: NameRequest, reply) => {
    const { version, reason } = parseOrThrow(BackendDelete, request.body ?? {});
    const meta = changeMeta(request, reason, version);
    const backend = await store.backends.delete(backendName(request), meta);
    audit(request, 'delete', backend, meta);
    return reply.code(204).send();
  });

  app.get('/backends/:name/history', async (request: NameRequest) => ({ history: await store.backends.history(backendName(request)) }));
}

function send(reply: FastifyReply, backend: BackendView): BackendView {
  reply.header('etag', `"${backend.version}"`);
  return backend;
}

function backendName(request: NameRequest): string {
  if (!BackendName.safeParse(request.params.name).success) throw notFound(request);
  return request.params.name;
}

function notFound(request: NameRequest): GatewayError {
  return new GatewayError('BACKEND_NOT_FOUND', `no backend "${request.params.name}"`);
}
