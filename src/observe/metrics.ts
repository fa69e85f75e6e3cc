import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { ErrorCode } from '../errors.js';
import type { BreakerState } from '../resilience/breaker.js';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import type { LiveBackends } from '../backends/live-backends.js';
import type { Clock } from '../clock.js';
import type { Mode, Side } from '../routing/schema.js';
import type { RouteTable } from '../routing/route-table.js';
import type { HedgeWinner } from '../proxy/hedge.js';
import type { TrafficSample } from './traffic-window.js';
import type { ComparisonResult, Shadowing } from '../shadow/shadowing.js';

/** What the scrape-time gauges read: the live route table, the breakers and the backends. */
export interface MetricSources {
  routes: { readonly current: RouteTable };
  breakers: BreakerRegistry;
  backends: Pick<LiveBackends, 'list'>;
  clock: Clock;
  /** Shadow mode's counts (shadow/shadowing.ts), when the gateway runs it. */
  shadow?: Pick<Shadowing, 'comparisonTotals' | 'noiseFieldCounts'> | undefined;
}

/**
 * A route's per-route series are exposed while it has traffic and for 5 minutes after its last
 * request, so their number follows the routes in use, not the size of the table (a million
 * routes would otherwise be millions of series). A series that comes back resumes its count.
 */
export const SERIES_TTL_MS = 5 * 60_000;

/** `strangler_breaker_state`: a number per state, so alerts can say `> 0`. */
export const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Seconds; from 1 ms (a cached answer) to a minute (the default deadline). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const DURATION = 'strangler_request_duration_seconds';
const HEDGE_WINNERS = ['legacy', 'modern', 'none'] as const satisfies readonly HedgeWinner[];
const SHADOW_RESULTS = ['match', 'mismatch', 'error', 'skipped'] as const satisfies readonly ComparisonResult[];

/**
 * One route and answering backend's requests (on one side), as plain numbers. prom-client's labelled
 * `inc`/`observe` hash their labels on every call (about 1.1 µs and 3% of the gateway's CPU
 * under load, measured); here a request costs a few additions, and labels are formatted only
 * when Prometheus scrapes.
 */
class Series {
  readonly byClass = [0, 0, 0, 0, 0];
  /** Observations per duration bucket (not cumulative); the last slot is past the largest bound. */
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  /** `count` at the last scrape, and until when the series is shown (see SERIES_TTL_MS). */
  countAtScrape = 0;
  shownUntil = 0;

  constructor(
    readonly routeId: string,
    /** The named backend that answered. */
    readonly backend: string,
    readonly side: Side,
  ) {}

  record(status: number, seconds: number): void {
    this.byClass[Math.min(4, Math.max(0, Math.floor(status / 100) - 1))]!++;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }

  /** The histogram's samples in prom-client's value shape: cumulative buckets, `+Inf`, sum, count. */
  histogramValues(): { labels: Record<string, string | number>; value: number; metricName: string }[] {
    const labels = { route: this.routeId, backend: this.backend, side: this.side };
    let cumulative = 0;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = DURATION_BUCKETS.map((le, i) => {
      cumulative += this.buckets[i]!;
      return { labels: { le, ...labels }, value: cumulative, metricName: `${DURATION}_bucket` };
    });
    values.push({ labels: { le: '+Inf', ...labels }, value: this.count, metricName: `${DURATION}_bucket` });
    values.push({ labels, value: this.sum, metricName: `${DURATION}_sum` }, { labels, value: this.count, metricName: `${DURATION}_count` });
    return values;
  }
}

/**
 * The gateway's Prometheus metrics. Per-request series are labelled by route id and backend,
 * never by path, and shown only for routes with recent traffic (SERIES_TTL_MS); series of deleted
 * routes are dropped at the next scrape. Everything is read from its source when Prometheus scrapes, so the request
 * path only adds to plain counters.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly fallbacks: Counter<'route' | 'reason'>;
  private readonly refused: Counter<'code'>;
  /** Per route, per answering backend (a route's backends can change, so keyed by name). */
  private readonly series = new Map<string, Map<string, Series>>();
  private readonly fallbackRoutes = new Map<string, Set<string>>();
  /** The series shown in the scrape under way, chosen once per scrape. */
  private shown: Series[] = [];
  private readonly clock: Clock;
  /** Hedged requests per route, by winner: plain numbers, labelled at scrape time. */
  private readonly hedges = new Map<string, Record<HedgeWinner, number>>();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.clock = sources.clock;
    collectDefaultMetrics({ register: this.registry });
    const all = () => this.shown;
    new Counter({
      name: 'strangler_requests_total',
      help: 'Requests answered, by route, the backend that answered (and its side) and status class',
      labelNames: ['route', 'backend', 'side', 'status_class'],
      registers,
      collect() {
        this.reset();
        for (const series of all()) {
          series.byClass.forEach((n, i) => {
            if (n > 0) this.inc({ route: series.routeId, backend: series.backend, side: series.side, status_class: STATUS_CLASSES[i]! }, n);
          });
        }
      },
    });
    this.registry.registerMetric(durationHistogram(all));
    const hedges = this.hedges;
    new Counter({
      name: 'strangler_hedges_total',
      help: 'Requests also sent to legacy because modern was slow (hedged), by route and the try that answered (none: neither could)',
      labelNames: ['route', 'winner'],
      registers,
      collect() {
        this.reset();
        for (const [route, counts] of hedges) {
          for (const winner of HEDGE_WINNERS) if (counts[winner] > 0) this.inc({ route, winner }, counts[winner]);
        }
      },
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
    if (sources.shadow !== undefined) registerShadow(sources.shadow, registers);
  }

  /** A request the gateway refused itself, before any route or backend was chosen. */
  recordRefused(code: ErrorCode): void {
    this.refused.labels(code).inc();
  }

  record(sample: TrafficSample): void {
    this.seriesOf(sample.routeId, sample.upstream ?? sample.servedBy, sample.servedBy).record(sample.status, sample.durationMs / 1000);
    if (sample.hedge !== undefined) {
      let counts = this.hedges.get(sample.routeId);
      if (counts === undefined) this.hedges.set(sample.routeId, (counts = { legacy: 0, modern: 0, none: 0 }));
      counts[sample.hedge]++;
    }
    if (sample.fallback !== undefined) {
      this.fallbacks.labels(sample.routeId, sample.fallback).inc();
      let reasons = this.fallbackRoutes.get(sample.routeId);
      if (reasons === undefined) this.fallbackRoutes.set(sample.routeId, (reasons = new Set()));
      reasons.add(sample.fallback);
    }
  }

  /** The text exposition, after dropping series of routes that no longer exist. */
  async exposition(exists: (routeId: string) => boolean): Promise<string> {
    this.prune(exists);
    const now = this.clock.now();
    this.shown = [];
    for (const route of this.series.values()) {
      for (const series of route.values()) {
        if (series.count !== series.countAtScrape) {
          series.countAtScrape = series.count;
          series.shownUntil = now + SERIES_TTL_MS;
        }
        if (series.shownUntil > now) this.shown.push(series);
      }
    }
    return this.registry.metrics();
  }

  /** The routes with series in this scrape: the ones the per-route gauges cover. */
  private shownRouteIds(): Set<string> {
    return new Set(this.shown.map((s) => s.routeId));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private seriesOf(routeId: string, backend: string, side: Side): Series {
    let route = this.series.get(routeId);
    if (route === undefined) this.series.set(routeId, (route = new Map()));
    let series = route.get(backend);
    if (series === undefined) route.set(backend, (series = new Series(routeId, backend, side)));
    return series;
  }

  private prune(exists: (routeId: string) => boolean): void {
    for (const routeId of this.series.keys()) if (!exists(routeId)) this.series.delete(routeId);
    for (const routeId of this.hedges.keys()) if (!exists(routeId)) this.hedges.delete(routeId);
    for (const [routeId, reasons] of this.fallbackRoutes) {
      if (exists(routeId)) continue;
      this.fallbackRoutes.delete(routeId);
      for (const reason of reasons) this.fallbacks.remove(routeId, reason);
    }
  }

  private registerScrapeTime({ routes, breakers, backends: live }: MetricSources, registers: Registry[]): void {
    const shown = () => [...this.shownRouteIds()].flatMap((id) => routes.current.get(id) ?? []);
    new Gauge({
      name: 'strangler_breaker_state',
      help: "Each route's modern-side circuit breaker: 0 closed, 1 half-open, 2 open",
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const route of shown()) this.set({ route: route.id }, BREAKER_STATE_VALUE[breakers.snapshot(route.id)?.state ?? 'closed']);
      },
    });
    new Gauge({
      name: 'strangler_canary_percent',
      help: "Each route's share of sticky keys sent to modern: 0 in legacy mode, 100 in modern mode",
      labelNames: ['route'],
      registers,
      collect() {
        this.reset();
        for (const route of shown()) this.set({ route: route.id }, effectiveCanary(route.mode, route.canaryPercent));
      },
    });
    new Gauge({
      name: 'strangler_in_flight_requests',
      help: 'Requests in flight to each backend (its bulkhead occupancy)',
      labelNames: ['backend', 'side'],
      registers,
      collect() {
        this.reset();
        for (const upstream of live.list()) this.set({ backend: upstream.name, side: upstream.role }, upstream.bulkhead.inFlight);
      },
    });
    new Gauge({
      name: 'strangler_in_flight_limit',
      help: 'Most requests in flight each backend accepts (its bulkhead size)',
      labelNames: ['backend', 'side'],
      registers,
      collect() {
        this.reset();
        for (const upstream of live.list()) this.set({ backend: upstream.name, side: upstream.role }, upstream.bulkhead.max);
      },
    });
    new Counter({
      name: 'strangler_retries_total',
      help: 'Retries sent to each backend',
      labelNames: ['backend', 'side'],
      registers,
      collect() {
        this.reset();
        for (const upstream of live.list()) this.inc({ backend: upstream.name, side: upstream.role }, upstream.budget.totals().granted);
      },
    });
    new Counter({
      name: 'strangler_retry_budget_refusals_total',
      help: "Retries each backend's retry budget refused",
      labelNames: ['backend', 'side'],
      registers,
      collect() {
        this.reset();
        for (const upstream of live.list()) this.inc({ backend: upstream.name, side: upstream.role }, upstream.budget.totals().refused);
      },
    });
  }
}

/** Shadow mode's counters, read from its per-route counts at scrape time (this process's, since start-up). */
function registerShadow(shadow: NonNullable<MetricSources['shadow']>, registers: Registry[]): void {
  new Counter({
    name: 'strangler_shadow_comparisons_total',
    help: 'Requests of shadow routes by what the copy to modern found: match, mismatch, error (modern failed or timed out), skipped (not copied)',
    labelNames: ['route', 'result'],
    registers,
    collect() {
      this.reset();
      for (const [route, totals] of shadow.comparisonTotals()) {
        for (const result of SHADOW_RESULTS) if (totals[result] > 0) this.inc({ route, result }, totals[result]);
      }
    },
  });
  new Gauge({
    name: 'strangler_shadow_noise_fields',
    help: 'Fields each shadow route learnt as noise (they differ between two legacy answers to one request)',
    labelNames: ['route'],
    registers,
    collect() {
      this.reset();
      for (const [route, count] of shadow.noiseFieldCounts()) this.set({ route }, count);
    },
  });
}

/**
 * The duration histogram as a registry entry. A prom-client registry takes any metric with
 * `get()` and `reset()`; this one answers with the value shape prom-client's own histograms use,
 * so the exposition is the same.
 */
function durationHistogram(series: () => Series[]): Metric {
  const metric = {
    name: DURATION,
    help: 'Time from request to the end of the answer, retries and fallback included, by route and answering backend',
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({
      name: metric.name,
      help: metric.help,
      type: metric.type,
      aggregator: metric.aggregator,
      values: series().flatMap((s) => s.histogramValues()),
    }),
    reset: () => {},
  };
  return metric as unknown as Metric;
}

/** The share of traffic a route's mode sends to modern. */
export function effectiveCanary(mode: Mode, canaryPercent: number): number {
  // Shadow mode answers from legacy: its copies to modern are no one's answer.
  return mode === 'legacy' || mode === 'shadow' ? 0 : mode === 'modern' ? 100 : canaryPercent;
}
