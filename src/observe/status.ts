import { z } from 'zod';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import { DEFAULT_BACKEND_NAMES } from '../backends/schema.js';
import { Mode, type Route } from '../routing/schema.js';
import type { RouteTable } from '../routing/route-table.js';
import { effectiveCanary } from './metrics.js';
import { SideSummary, type TrafficWindow } from './traffic-window.js';
import { matchRate } from '../shadow/report.js';
import type { ShadowCounts } from '../shadow/tally.js';

export const RouteStatus = z.object({
  id: z.string(),
  /** null for `default`: the paths no route matches. */
  pathPrefix: z.string().nullable(),
  mode: Mode,
  /** The named backends of the route's two sides (the defaults for unmatched paths). */
  legacyBackend: z.string(),
  modernBackend: z.string(),
  /** The share of sticky keys sent to modern: 0 in legacy mode, 100 in modern mode. */
  modernPercent: z.number().int().min(0).max(100),
  breaker: z.enum(['closed', 'open', 'half-open']),
  legacy: SideSummary,
  modern: SideSummary,
  /** Shadow mode's results (GET /routes/:id/shadow has the rest); null for routes not in shadow mode. */
  shadow: z.object({ matchRate: z.number().nullable(), compared: z.number().int() }).nullable(),
});
export type RouteStatus = z.infer<typeof RouteStatus>;

/** Paths no route matches: served by the default legacy backend. */
const UNMATCHED = {
  id: 'default',
  mode: 'legacy',
  canaryPercent: 0,
  legacyBackend: DEFAULT_BACKEND_NAMES.legacy,
  modernBackend: DEFAULT_BACKEND_NAMES.modern,
} as const;

/** `GET /status`. */
export const MigrationStatus = z.object({
  /** The window's length, and how much of it the gateway has been up for (rates divide by the latter). */
  windowSeconds: z.number(),
  coveredSeconds: z.number(),
  routes: z.object({ total: z.number().int(), legacy: z.number().int(), canary: z.number().int(), modern: z.number().int(), shadow: z.number().int() }),
  traffic: z.object({ requests: z.number().int(), ratePerSecond: z.number(), modernShare: z.number().min(0).max(1) }),
  /** One page of the routes, in path prefix order (then `default`, on the last page, when it had traffic). */
  perRoute: z.array(RouteStatus),
  /** The cursor of the next page (`?after=`), or null on the last page. */
  next: z.string().nullable(),
});
export type MigrationStatus = z.infer<typeof MigrationStatus>;

/**
 * Where the migration stands: how many routes are on each side, the share of recent traffic
 * modern served, and each route's two sides next to each other over the window, which is what
 * a team reads before raising a canary. `default` (unmatched paths) is listed when it had traffic.
 */
export function migrationStatus(
  table: RouteTable,
  window: TrafficWindow,
  breakers: BreakerRegistry,
  page: readonly Route[],
  next: string | null,
  shadowed: ReadonlyMap<string, Pick<ShadowCounts, 'compared' | 'matched' | 'mismatched'>> = new Map(),
): MigrationStatus {
  const routes = { total: table.size, ...table.modeCounts };
  const perRoute: RouteStatus[] = [];
  const { requests, servedByModern } = window.totals();
  const add = (route: Pick<Route, 'id' | 'mode' | 'canaryPercent' | 'legacyBackend' | 'modernBackend'>, pathPrefix: string | null, summary = window.summary(route.id)) => {
    const { id, mode } = route;
    perRoute.push({
      id,
      pathPrefix,
      mode,
      legacyBackend: route.legacyBackend,
      modernBackend: route.modernBackend,
      modernPercent: effectiveCanary(mode, route.canaryPercent),
      breaker: breakers.snapshot(id)?.state ?? 'closed',
      legacy: summary.legacy,
      modern: summary.modern,
      shadow: mode === 'shadow' ? shadowSummary(shadowed.get(id)) : null,
    });
  };
  for (const route of page) add(route, route.pathPrefix);
  const unmatched = window.summary('default');
  if (next === null && unmatched.legacy.requests > 0) add(UNMATCHED, null, unmatched);
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
    next,
  };
}

function shadowSummary(counts: Pick<ShadowCounts, 'compared' | 'matched' | 'mismatched'> | undefined): { matchRate: number | null; compared: number } {
  return counts === undefined ? { matchRate: null, compared: 0 } : { matchRate: matchRate(counts), compared: counts.compared };
}
