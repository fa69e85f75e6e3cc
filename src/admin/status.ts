import type { FastifyInstance } from 'fastify';
import { migrationStatus } from '../observe/status.js';
import type { AdminOptions } from './server.js';

/** `GET /status`: the migration at a glance (see observe/status.ts). */
export function registerStatus(app: FastifyInstance, { routes, traffic, breakers }: AdminOptions): void {
  app.get('/status', async () => {
    const table = routes.current;
    traffic.retain(new Set([...table.routes.map((r) => r.id), 'default']));
    return migrationStatus(table, traffic, breakers);
  });
}
