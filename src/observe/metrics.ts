import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ErrorCode } from '../errors.js';
import type { BreakerState } from '../resilience/breaker.js';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import type { Backend } from '../routing/schema.js';
import type { RouteTable } from '../routing/route-table.js';
import type { Upstream } from '../proxy/upstream.js';
import type { TrafficSample } from './traffic-window.js';

/** What the scrape-time gauges read: the live route table, the breakers and the backends. */
export interface MetricSources {
  routes: { readonly current: RouteTable };
  breakers: BreakerRegistry;
  upstreams: Record<Backend, Upstream>;
}

/** `strangler_breaker_state`: a number per state, so alerts can say `> 0`. */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Seconds; from 1 ms (a cached answer) to a minute (the default deadline). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The labelled series one route and backend write to on every request, looked up once. */
interface Series {
  routeId: string;
  backend: Backend;
  byClass: ({ inc(): void } | undefined)[];
  duration: { observe(seconds: number): void };
}

/**
 * The gateway's Prometheus metrics. Per-request series are labelled by route id and backend,
 * never by path, so their number follows the route table; series of deleted routes are dropped
 * at the next scrape. Gauges and retry counters are read from their sources at scrape time, so
 * the request path only bumps two counters.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'backend' | 'status_class'>;
  private readonly duration: Histogram<'route' | 'backend'>;
  private readonly fallbacks: Counter<'route' | 'reason'>;
  private readonly refused: Counter<'code'>;
  private readonly series = new Map<string, Partial<Record<Backend, Series>>>();
  private readonly fallbackRoutes = new Map<string, Set<string>>();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'strangler_requests_total',
      help: 'Requests answered, by route, the backend that answered and status class',
      labelNames: ['route', 'backend', 'status_class'],
      registers,
    });
    this.duration = new Histogram({
      name: 'strangler_request_duration_seconds',
      help: 'Time from request to the end of the answer, retries and fallback included, by route and answering backend',
      labelNames: ['route', 'backend'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.fallbacks = new Counter({
      name: 'strangler_fallbacks_total',
      help: 'Modern-bound requests legacy answered, by route and reason',
      labelNames: ['route', 'reason'],
      registers,
    });
    this.refused = new Counter({
      name: 'strangler_refused_requests_total',
      help: 'Requests the gateway refused before choosing a backend, by error code (bad target, too large, missing Host)',
      labelNames: ['code'],
      registers,
    });
    this.registerScrapeTime(sources, registers);
  }

  /** A request the gateway refused itself, before any route or backend was chosen. */
  recordRefused(code: ErrorCode): void {
    this.refused.labels(code).inc();
  }

  record(sample: TrafficSample): void {
    const series = this.seriesOf(sample.routeId, sample.servedBy);
    const index = Math.min(4, Math.max(0, Math.floor(sample.status / 100) - 1));
    (series.byClass[index] ??= this.requests.labels(sample.routeId, sample.servedBy, STATUS_CLASSES[index]!)).inc();
    series.duration.observe(sample.durationMs / 1000);
    if (sample.fallback !== undefined) {
      this.fallbacks.labels(sample.routeId, sample.fallback).inc();
      let reasons = this.fallbackRoutes.get(sample.routeId);
      if (reasons === undefined) this.fallbackRoutes.set(sample.routeId, (reasons = new Set()));
      reasons.add(sample.fallback);
    }
  }

  /** The text exposition, after dropping series of routes that no longer exist. */
  async exposition(liveRouteIds: ReadonlySet<string>): Promise<string> {
    this.prune(liveRouteIds);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private seriesOf(routeId: string, backend: Backend): Series {
    let route = this.series.get(routeId);
    if (route === undefined) this.series.set(routeId, (route = {}));
    return (route[backend] ??= { routeId, backend, byClass: [], duration: this.duration.labels(routeId, backend) });
  }

  private prune(liveRouteIds: ReadonlySet<string>): void {
    for (const [routeId, route] of this.series) {
      if (liveRouteIds.has(routeId)) continue;
      this.series.delete(routeId);
      for (const series of Object.values(route)) {
        this.duration.remove(series.routeId, series.backend);
        for (const statusClass of STATUS_CLASSES) this.requests.remove(series.routeId, series.backend, statusClass);
      }
    }
    for (const [routeId, reasons] of this.fallbackRoutes) {
      if (liveRouteIds.has(routeId)) continue;
      this.fallbackRoutes.delete(routeId);
      for (const reason of reasons) this.fallbacks.remove(routeId, reason);
    }
  }

  private registerScrapeTime({ routes, breakers, upstreams }: MetricSources, registers: Registry[]): void {
    const backends = Object.values(upstreams);
    new Gauge({
      name: 'strangler_breaker_state',
      help: "Each route's modern-side circuit breaker: 0 closed, 1 half-open, 2 open",
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const route of routes.current.routes) this.set({ route: route.id }, BREAKER_STATE_VALUE[breakers.snapshot(route.id)?.state ?? 'closed']);
      },
    });
    new Gauge({
      name: 'strangler_canary_percent',
      help: "Each route's share of sticky keys sent to modern: 0 in legacy mode, 100 in modern mode",
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const route of routes.current.routes) this.set({ route: route.id }, effectiveCanary(route.mode, route.canaryPercent));
      },
    });
    new Gauge({
      name: 'strangler_in_flight_requests',
      help: 'Requests in flight to each backend (its bulkhead occupancy)',
      labelNames: ['backend'],
      registers,
      collect() {
        for (const upstream of backends) this.set({ backend: upstream.name }, upstream.bulkhead.inFlight);
      },
    });
    new Gauge({
      name: 'strangler_in_flight_limit',
      help: 'Most requests in flight each backend accepts (its bulkhead size)',
      labelNames: ['backend'],
      registers,
      collect() {
        for (const upstream of backends) this.set({ backend: upstream.name }, upstream.bulkhead.max);
      },
    });
    new Counter({
      name: 'strangler_retries_total',
      help: 'Retries sent to each backend',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        for (const upstream of backends) this.inc({ backend: upstream.name }, upstream.budget.totals().granted);
      },
    });
    new Counter({
      name: 'strangler_retry_budget_refusals_total',
      help: "Retries each backend's retry budget refused",
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        for (const upstream of backends) this.inc({ backend: upstream.name }, upstream.budget.totals().refused);
      },
    });
  }
}

/** The share of traffic a route's mode sends to modern. */
export function effectiveCanary(mode: 'legacy' | 'canary' | 'modern', canaryPercent: number): number {
  return mode === 'legacy' ? 0 : mode === 'modern' ? 100 : canaryPercent;
}
