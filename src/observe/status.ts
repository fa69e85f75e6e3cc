import { z } from 'zod';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import { Mode } from '../routing/schema.js';
import type { RouteTable } from '../routing/route-table.js';
import { effectiveCanary } from './metrics.js';
import { SideSummary, type TrafficWindow } from './traffic-window.js';

export const RouteStatus = z.object({
  id: z.string(),
  /** null for `default`: the paths no route matches. */
  pathPrefix: z.string().nullable(),
  mode: Mode,
  /** The share of sticky keys sent to modern: 0 in legacy mode, 100 in modern mode. */
  modernPercent: z.number().int().min(0).max(100),
  breaker: z.enum(['closed', 'open', 'half-open']),
  legacy: SideSummary,
  modern: SideSummary,
});
export type RouteStatus = z.infer<typeof RouteStatus>;

/** `GET /status`. */
export const MigrationStatus = z.object({
  /** The window's length, and how much of it the gateway has been up for (rates divide by the latter). */
  windowSeconds: z.number(),
  coveredSeconds: z.number(),
  routes: z.object({ total: z.number().int(), legacy: z.number().int(), canary: z.number().int(), modern: z.number().int() }),
  traffic: z.object({ requests: z.number().int(), ratePerSecond: z.number(), modernShare: z.number().min(0).max(1) }),
  perRoute: z.array(RouteStatus),
});
export type MigrationStatus = z.infer<typeof MigrationStatus>;

/**
 * Where the migration stands: how many routes are on each side, the share of recent traffic
 * modern served, and each route's two sides next to each other over the window, which is what
 * a team reads before raising a canary. `default` (unmatched paths) is listed when it had traffic.
 */
export function migrationStatus(table: RouteTable, window: TrafficWindow, breakers: BreakerRegistry): MigrationStatus {
  const routes = { total: table.size, legacy: 0, canary: 0, modern: 0 };
  const perRoute: RouteStatus[] = [];
  let requests = 0;
  let servedByModern = 0;
  const add = (id: string, pathPrefix: string | null, mode: Mode, canaryPercent: number, summary = window.summary(id)) => {
    requests += summary.legacy.requests + summary.modern.requests;
    servedByModern += summary.servedByModern;
    perRoute.push({
      id,
      pathPrefix,
      mode,
      modernPercent: effectiveCanary(mode, canaryPercent),
      breaker: breakers.snapshot(id)?.state ?? 'closed',
      legacy: summary.legacy,
      modern: summary.modern,
    });
  };
  for (const route of table.routes) {
    routes[route.mode]++;
    add(route.id, route.pathPrefix, route.mode, route.canaryPercent);
  }
  const unmatched = window.summary('default');
  if (unmatched.legacy.requests > 0) add('default', null, 'legacy', 0, unmatched);
  const seconds = window.coveredSeconds();
  return {
    windowSeconds: window.windowSeconds,
    coveredSeconds: Math.round(seconds),
    routes,
    traffic: {
      requests,
      ratePerSecond: Math.round((requests / seconds) * 1000) / 1000,
      modernShare: requests === 0 ? 0 : Math.round((servedByModern / requests) * 10_000) / 10_000,
    },
    perRoute,
  };
}
