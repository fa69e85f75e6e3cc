import { z } from 'zod';
import type { Clock } from '../clock.js';
import type { HedgeWinner } from '../proxy/hedge.js';
import type { FallbackReason } from '../resilience/failover.js';
import type { Side } from '../routing/schema.js';

/** One finished request, as the metrics and the status window count it. */
export interface TrafficSample {
  /** The route's id, `default` for unmatched paths. */
  routeId: string;
  /** The side the route chose for the request. */
  side: Side;
  /** The side that answered: legacy when a modern-bound request fell back. */
  servedBy: Side;
  /** The name of the backend that answered; undefined when the gateway answered before any try. */
  upstream: string | undefined;
  status: number;
  durationMs: number;
  fallback: FallbackReason | undefined;
  /** Set when a copy went to legacy (hedging): which try answered. */
  hedge?: HedgeWinner | undefined;
}

const Share = z.number().min(0).max(1);

/** What one side of one route did over the window. */
export const SideSummary = z.object({
  requests: z.number().int(),
  ratePerSecond: z.number(),
  /** Share of requests answered with a 5xx (the backend's or the gateway's own). */
  errorRate: Share,
  /** Upper bounds of the latency buckets holding the median and the 99th percentile; null with no requests. */
  p50Ms: z.number().nullable(),
  p99Ms: z.number().nullable(),
  /** Share of the side's requests that legacy answered instead (always 0 for legacy). */
  fallbackRate: Share,
});
export type SideSummary = z.infer<typeof SideSummary>;

export interface RouteSummary {
  legacy: SideSummary;
  modern: SideSummary;
  /** Requests of this route that modern answered. */
  servedByModern: number;
}

export interface WindowOptions {
  /** How far back the window looks. */
  windowMs: number;
  /** How many slices it is cut into: it forgets a slice at a time. */
  slices: number;
}

/** 5 minutes in 10 slices of 30 s: recent enough to steer a canary, long enough to rank p99. */
export const DEFAULT_WINDOW: WindowOptions = { windowMs: 300_000, slices: 10 };

/**
 * Latency buckets: upper bounds growing by 25% from 0.5 ms, so a percentile read from them is
 * within 25% of the truth; the last bucket holds everything past ~10 minutes.
 */
const BUCKET_BOUNDS_MS: readonly number[] = Array.from({ length: 64 }, (_, i) => Math.round(0.5 * 1.25 ** i * 100) / 100);
const BUCKETS = BUCKET_BOUNDS_MS.length;
/** How many latency buckets bucketOf spreads over (for other tallies that reuse them). */
export const LATENCY_BUCKETS = BUCKETS;
const EMPTY_LATENCY = new Uint32Array(BUCKETS);
const LOG_GROWTH = Math.log(1.25);

/** Counters of one route side over one slice. */
interface Slice {
  epoch: number;
  requests: number;
  errors: number;
  fallbacks: number;
  servedByModern: number;
  latency: Uint32Array;
}

/** The slices of one route side, as a ring indexed by slice number. */
class SideRing {
  readonly slices: Slice[];

  constructor(count: number) {
    this.slices = Array.from({ length: count }, () => ({ epoch: -1, requests: 0, errors: 0, fallbacks: 0, servedByModern: 0, latency: new Uint32Array(BUCKETS) }));
  }

  /** The slice for `epoch`, emptied first if it still holds an older one. */
  slice(epoch: number): Slice {
    const slice = this.slices[epoch % this.slices.length]!;
    if (slice.epoch !== epoch) {
      slice.epoch = epoch;
      slice.requests = slice.errors = slice.fallbacks = slice.servedByModern = 0;
      slice.latency.fill(0);
    }
    return slice;
  }
}

/**
 * Per-route, per-side request counts and latency over a sliding time window, for the migration
 * status page. Pure bookkeeping on an injected clock: O(1) per request, memory per route side
 * fixed (slices × 64 counters), created on a route's first request.
 */
export class TrafficWindow {
  private readonly routes = new Map<string, Partial<Record<Side, SideRing>>>();
  /** Modern's own try latency per route, apart from the client-observed figures; see recordModernTry. */
  private readonly modernTries = new Map<string, SideRing>();
  private readonly sliceMs: number;
  private readonly startedAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly options: WindowOptions = DEFAULT_WINDOW,
  ) {
    this.sliceMs = options.windowMs / options.slices;
    this.startedAt = clock.now();
  }

  record(sample: TrafficSample): void {
    const slice = this.ring(sample.routeId, sample.side).slice(this.epoch());
    slice.requests++;
    if (sample.status >= 500) slice.errors++;
    if (sample.fallback !== undefined) slice.fallbacks++;
    if (sample.servedBy === 'modern') slice.servedByModern++;
    slice.latency[bucketOf(sample.durationMs)]!++;
  }

  /**
   * One try on modern: the time from sending it to its response head, or to when it was given up
   * (timed out, failed, lost a hedge race). This, not the client-observed latency `record` keeps,
   * is what a hedge delay follows: a request legacy answered after modern failed or lost would
   * count legacy's latency (plus the wait) as modern's. A try given up on counts as its elapsed
   * time, a lower bound of its real latency, so every percentile below that time stays exact.
   */
  recordModernTry(routeId: string, ms: number): void {
    let ring = this.modernTries.get(routeId);
    if (ring === undefined) this.modernTries.set(routeId, (ring = new SideRing(this.options.slices)));
    const slice = ring.slice(this.epoch());
    slice.requests++;
    slice.latency[bucketOf(ms)]!++;
  }

  /** The `percent` percentile of modern's try latency on the route over the window (bucket upper bound); null without tries. */
  modernTryPercentile(routeId: string, percent: number): number | null {
    const total = this.sum(this.modernTries.get(routeId));
    return percentile(total.latency, total.requests, percent / 100);
  }

  /** The route's two sides over the window; zeros for a route without traffic. */
  summary(routeId: string): RouteSummary {
    const sides = this.routes.get(routeId);
    if (sides === undefined) return this.idle();
    const legacy = this.sum(sides?.legacy);
    const modern = this.sum(sides?.modern);
    return { legacy: this.summarise(legacy), modern: this.summarise(modern), servedByModern: legacy.servedByModern + modern.servedByModern };
  }

  /** Routes with modern tries recorded (the ones hedging on a percentile). */
  modernTryRouteIds(): IterableIterator<string> {
    return this.modernTries.keys();
  }

  /** A route without traffic: most of a large table. */
  private idle(): RouteSummary {
    const side = this.summarise({ requests: 0, errors: 0, fallbacks: 0, servedByModern: 0, latency: EMPTY_LATENCY });
    return { legacy: side, modern: { ...side }, servedByModern: 0 };
  }

  /** Route ids with any request recorded (also ones that have since been deleted). */
  routeIds(): string[] {
    return [...this.routes.keys()];
  }

  /** Forgets routes that no longer exist, so the window's memory follows the route table. */
  retain(exists: (routeId: string) => boolean): void {
    for (const id of this.routes.keys()) if (!exists(id)) this.routes.delete(id);
    for (const id of this.modernTries.keys()) if (!exists(id)) this.modernTries.delete(id);
  }

  /**
   * All routes' requests over the window, and how many modern answered. Costs the number of
   * routes that had traffic, never the size of the route table.
   */
  totals(): { requests: number; servedByModern: number } {
    const oldest = this.epoch() - this.options.slices + 1;
    let requests = 0;
    let servedByModern = 0;
    for (const sides of this.routes.values()) {
      for (const ring of [sides.legacy, sides.modern]) {
        for (const slice of ring?.slices ?? []) {
          if (slice.epoch < oldest) continue;
          requests += slice.requests;
          servedByModern += slice.servedByModern;
        }
      }
    }
    return { requests, servedByModern };
  }

  get windowSeconds(): number {
    return this.options.windowMs / 1000;
  }

  /** Seconds the window covers now: its full length, or less while the gateway is younger. */
  coveredSeconds(): number {
    return Math.max(1, Math.min(this.options.windowMs, this.clock.now() - this.startedAt)) / 1000;
  }

  private ring(routeId: string, side: Side): SideRing {
    let sides = this.routes.get(routeId);
    if (sides === undefined) this.routes.set(routeId, (sides = {}));
    return (sides[side] ??= new SideRing(this.options.slices));
  }

  private epoch(): number {
    return Math.floor(this.clock.now() / this.sliceMs);
  }

  /** Adds up the slices still inside the window. */
  private sum(ring: SideRing | undefined): Omit<Slice, 'epoch'> {
    const total = { requests: 0, errors: 0, fallbacks: 0, servedByModern: 0, latency: new Uint32Array(BUCKETS) };
    if (ring === undefined) return total;
    const oldest = this.epoch() - this.options.slices + 1;
    for (const slice of ring.slices) {
      if (slice.epoch < oldest) continue;
      total.requests += slice.requests;
      total.errors += slice.errors;
      total.fallbacks += slice.fallbacks;
      total.servedByModern += slice.servedByModern;
      for (let i = 0; i < BUCKETS; i++) total.latency[i]! += slice.latency[i]!;
    }
    return total;
  }

  private summarise(total: Omit<Slice, 'epoch'>): SideSummary {
    const { requests } = total;
    return {
      requests,
      ratePerSecond: round(requests / this.coveredSeconds(), 3),
      errorRate: requests === 0 ? 0 : round(total.errors / requests, 4),
      p50Ms: percentile(total.latency, requests, 0.5),
      p99Ms: percentile(total.latency, requests, 0.99),
      fallbackRate: requests === 0 ? 0 : round(total.fallbacks / requests, 4),
    };
  }
}

/** The bucket whose upper bound is the first at or above `ms`. */
export function bucketOf(ms: number): number {
  if (!(ms > BUCKET_BOUNDS_MS[0]!)) return 0;
  let i = Math.ceil(Math.log(ms / 0.5) / LOG_GROWTH);
  // Rounding of the bounds and of the logarithm can put a value one bucket off: settle it.
  while (i > 0 && i < BUCKETS && BUCKET_BOUNDS_MS[i - 1]! >= ms) i--;
  while (i < BUCKETS - 1 && BUCKET_BOUNDS_MS[i]! < ms) i++;
  return Math.min(i, BUCKETS - 1);
}

/** The upper bound of the bucket holding the q-quantile request; `latency` is dense or sparse counts by bucket. */
export function percentile(latency: { readonly [bucket: number]: number | undefined }, count: number, q: number): number | null {
  if (count === 0) return null;
  const rank = Math.ceil(q * count);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += latency[i] ?? 0;
    if (seen >= rank) return BUCKET_BOUNDS_MS[i]!;
  }
  return BUCKET_BOUNDS_MS[BUCKETS - 1]!;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
