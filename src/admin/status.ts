import type { FastifyInstance } from 'fastify';
import { migrationStatus } from '../observe/status.js';
import { nextCursor, pageQuery } from './paging.js';
import type { AdminOptions } from './server.js';

/** `GET /status`: the migration at a glance (see observe/status.ts), its routes a page at a time. */
export function registerStatus(app: FastifyInstance, { store, routes, traffic, breakers, shadow }: AdminOptions): void {
  app.get('/status', async (request) => {
    const { limit, after } = pageQuery(request.query);
    const table = routes.current;
    traffic.retain((id) => id === 'default' || table.get(id) !== undefined);
    // The page comes from the store in prefix order; each route as the data plane has it now.
    const page = (await store.page(limit, after)).map((r) => table.get(r.id) ?? r);
    const shadowed = await shadow.summaries(page.filter((r) => r.mode === 'shadow').map((r) => r.id));
    return migrationStatus(table, traffic, breakers, page, nextCursor(page, limit, (r) => r.pathPrefix), shadowed);
  });
}
