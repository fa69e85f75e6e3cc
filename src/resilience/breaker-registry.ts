import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { BreakerSettings, Route } from '../routing/schema.js';
import { CircuitBreaker, type BreakerSnapshot } from './breaker.js';

interface Entry {
  breaker: CircuitBreaker;
  settings: string;
  /** The route object last seen: route snapshots are immutable, so the same object means the same settings. */
  route: Route;
}

/**
 * One modern-side breaker per route. A route whose breaker settings change gets a fresh
 * breaker (closed) on its next request; other changes keep the breaker and its history.
 */
export class BreakerRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  for(route: Route): CircuitBreaker {
    const entry = this.entries.get(route.id);
    if (entry?.route === route) return entry.breaker;
    // A reload made a new route object: keep the breaker unless its settings changed.
    const settings = JSON.stringify(route.resilience.breaker);
    if (entry !== undefined && entry.settings === settings) {
      entry.route = route;
      return entry.breaker;
    }
    const breaker = this.create(route.id, route.resilience.breaker);
    this.entries.set(route.id, { breaker, settings, route });
    return breaker;
  }

  /** The breaker's state for a route, or undefined when it has taken no modern call yet. */
  snapshot(routeId: string): BreakerSnapshot | undefined {
    return this.entries.get(routeId)?.breaker.snapshot();
  }

  /** Closes a route's breaker; false when the route has none yet. */
  reset(routeId: string): boolean {
    const entry = this.entries.get(routeId);
    entry?.breaker.reset();
    return entry !== undefined;
  }

  /** Forgets breakers of routes that no longer exist. */
  retain(routeIds: Set<string>): void {
    for (const id of this.entries.keys()) if (!routeIds.has(id)) this.entries.delete(id);
  }

  private create(routeId: string, settings: BreakerSettings): CircuitBreaker {
    const { countServerErrors: _count, ...options } = settings;
    return new CircuitBreaker(options, this.clock, (from, to, snapshot) =>
      // Logged once per transition, never per request.
      this.logger.warn({ route: routeId, from, to, failureRatePercent: snapshot.failureRatePercent, callsInWindow: snapshot.callsInWindow }, 'breaker state changed'),
    );
  }
}
