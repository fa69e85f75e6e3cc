import type { z } from 'zod';
import type { Gateway } from '../src/gateway.js';
import type { RouteCreate } from '../src/routing/schema.js';

/** The demo's routes: two on legacy, which the README's walk-through migrates, and one in shadow mode (README "Shadow mode"). */
export const SEED: z.input<typeof RouteCreate>[] = [
  { id: 'orders', pathPrefix: '/orders', mode: 'legacy', canaryPercent: 0, stickyKey: 'cookie', timeoutMs: 5_000, maxBodyBytes: null },
  { id: 'users', pathPrefix: '/users', mode: 'legacy', canaryPercent: 0, stickyKey: 'header:x-user-id', timeoutMs: 5_000, maxBodyBytes: null },
  // Legacy answers; modern gets a copy and the gateway compares.
  { id: 'stock', pathPrefix: '/stock', mode: 'shadow', timeoutMs: 5_000, maxBodyBytes: null },
];

/** Seeds the demo routes the first time only, so changes made while exploring survive a restart. */
export async function seed(gateway: Pick<Gateway, 'store'>): Promise<void> {
  if ((await gateway.store.page(1)).length > 0) return;
  for (const route of SEED) await gateway.store.create(route, { actor: 'demo', reason: 'demo seed' });
}
