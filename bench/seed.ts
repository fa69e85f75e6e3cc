/**
 * Route databases for the gateway configurations, written before the gateway process starts
 * (the way an operator's existing table would be there at boot).
 */
import { systemClock } from '../src/clock.js';
import type { z } from 'zod';
import type { RouteCreate } from '../src/routing/schema.js';
import { RouteStore } from '../src/routing/store.js';

type Seed = Omit<z.input<typeof RouteCreate>, 'reason'> & { id: string };

/** One modern route at /api: the plain 1-route gateway. */
export const ONE_ROUTE: Seed[] = [
  // The memory test streams a 50 MiB upload through this route: above the 10 MiB default limit.
  { id: 'api', pathPrefix: '/api', mode: 'modern', canaryPercent: 0, stickyKey: 'cookie', timeoutMs: 30_000, maxBodyBytes: 64 * 1024 * 1024 },
];

/** One route at /api in legacy mode, and the same in shadow mode (every request also copied to modern and compared). */
export const LEGACY_ROUTE: Seed[] = [{ id: 'api', pathPrefix: '/api', mode: 'legacy', timeoutMs: 30_000, maxBodyBytes: null }];
export const SHADOW_ROUTE: Seed[] = [{ id: 'api', pathPrefix: '/api', mode: 'shadow', timeoutMs: 30_000, maxBodyBytes: null }];

/** A 50 % canary at /api, sticky on the x-user-id header the load generators send. */
export const CANARY_ROUTE: Seed[] = [
  { id: 'api', pathPrefix: '/api', mode: 'canary', canaryPercent: 50, stickyKey: 'header:x-user-id', timeoutMs: 30_000, maxBodyBytes: null },
];

/**
 * `count` routes /svc/<i>/api with a mix of modes, as a real migration table would have; the
 * last one (the one the bench requests) is modern, like the 1-route configuration.
 */
export function manyRoutes(count: number): Seed[] {
  const modes = ['legacy', 'canary', 'modern'] as const;
  return Array.from({ length: count }, (_, i) => ({
    id: `svc-${i}`,
    pathPrefix: `/svc/${i}/api`,
    mode: i === count - 1 ? 'modern' : modes[i % 3]!,
    canaryPercent: i % 3 === 1 ? 10 : 0,
    stickyKey: i % 2 === 0 ? 'cookie' : 'header:x-user-id',
    timeoutMs: 30_000,
    maxBodyBytes: null,
  }));
}

export function seedDatabase(path: string, routes: readonly Seed[]): void {
  const store = RouteStore.open(path, { clock: systemClock });
  try {
    for (const route of routes) store.create(route, { actor: 'bench' });
  } finally {
    store.close();
  }
}
