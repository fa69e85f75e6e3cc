import type { Route } from '../routing/schema.js';

/**
 * The shortest hedge delay a percentile may give: below 10 ms a hedge would race nearly every
 * request, doubling legacy's load to shave off what is, at that point, noise.
 */
export const MIN_HEDGE_DELAY_MS = 10;

/**
 * How often the percentile-based delays are recomputed: once a second is fresh enough for a
 * window of minutes, and keeps the percentile off the request path.
 */
export const HEDGE_REFRESH_MS = 1_000;

/** A route's hedge settings (see `resilience` in routing/schema.ts). */
export interface HedgeSettings {
  /** null: no hedging. Otherwise the fixed delay, or the cap of a percentile-based one. */
  hedgeAfterMs: number | null;
  /** null: a fixed delay. Otherwise the percentile (50–99) of modern's try latency to follow. */
  hedgePercentile: number | null;
}

/**
 * How long a request to modern waits for modern's answer before a copy goes to legacy; null for
 * no hedge. With a percentile, its observed value (`observedMs`) kept within
 * [{@link MIN_HEDGE_DELAY_MS}, `hedgeAfterMs`], the cap winning should it be lower than the floor;
 * without observations yet, the cap, so a route with no history never hedges early.
 */
export function hedgeDelayMs(settings: HedgeSettings, observedMs: number | null): number | null {
  const cap = settings.hedgeAfterMs;
  if (cap === null) return null;
  if (settings.hedgePercentile === null || observedMs === null) return cap;
  return Math.min(cap, Math.max(MIN_HEDGE_DELAY_MS, observedMs));
}

/** What the exchange asks per request: both O(1). */
export interface HedgeTiming {
  /** The route's hedge delay now, or null for no hedge. */
  delayMs(route: Route): number | null;
  /** Reports one modern try's latency (to its response head, or until given up on). */
  recordModernTry(route: Route, ms: number): void;
}

/** Where modern's try latencies are kept (observe/traffic-window.ts, over the status window). */
export interface TryLatencies {
  recordModernTry(routeId: string, ms: number): void;
  modernTryPercentile(routeId: string, percent: number): number | null;
}

/** Fixed delays only: `hedgeAfterMs` as it is, nothing recorded (for a data plane without a window). */
export const FIXED_HEDGE_DELAYS: HedgeTiming = {
  delayMs: (route) => route.resilience.hedgeAfterMs,
  recordModernTry: () => {},
};

interface Cached {
  /** The percentile the delay was computed for: a route changed since reads the cap until the next refresh. */
  percentile: number;
  delayMs: number;
}

/**
 * Each route's hedge delay. Fixed delays are read from the route; percentile-based ones are
 * computed by {@link refresh} (every {@link HEDGE_REFRESH_MS}, off the request path) and cached by
 * route id, so a request reads its route's delay with one map lookup and never computes a
 * percentile. Try latencies are recorded only for routes that hedge on a percentile.
 */
export class HedgeDelays implements HedgeTiming {
  private readonly cached = new Map<string, Cached>();

  constructor(private readonly latencies: TryLatencies) {}

  delayMs(route: Route): number | null {
    const { hedgeAfterMs, hedgePercentile } = route.resilience;
    if (hedgeAfterMs === null || hedgePercentile === null) return hedgeAfterMs;
    const entry = this.cached.get(route.id);
    // The cap is applied again on read: it may have been lowered since the last refresh.
    return entry?.percentile === hedgePercentile ? Math.min(entry.delayMs, hedgeAfterMs) : hedgeAfterMs;
  }

  recordModernTry(route: Route, ms: number): void {
    if (route.resilience.hedgePercentile !== null) this.latencies.recordModernTry(route.id, ms);
  }

  /** Recomputes the delay of every route that hedges on a percentile, and forgets the others. */
  refresh(routes: Iterable<Route>): void {
    const live = new Set<string>();
    for (const route of routes) {
      const { hedgePercentile } = route.resilience;
      if (route.resilience.hedgeAfterMs === null || hedgePercentile === null) continue;
      live.add(route.id);
      const delayMs = hedgeDelayMs(route.resilience, this.latencies.modernTryPercentile(route.id, hedgePercentile));
      if (delayMs !== null) this.cached.set(route.id, { percentile: hedgePercentile, delayMs });
    }
    for (const id of this.cached.keys()) if (!live.has(id)) this.cached.delete(id);
  }
}
