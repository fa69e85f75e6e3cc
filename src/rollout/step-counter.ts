import type { TrafficSample } from '../observe/traffic-window.js';
import { countRequest, emptyCounts, type StepCounts } from './step-window.js';

/**
 * This gateway's counts for the current step of each route under rollout, fed by the data
 * plane's request observer (plain counters, nothing else on the request path). A modern-bound
 * request counts as a modern failure when modern failed it (5xx, timeout, connect error, an open
 * breaker), even when legacy then served it by fallback; a fall-through ("not ported yet") is not
 * a failure, and is counted on neither side; nor is a hedge legacy won (modern was slow: its
 * latency counts).
 */
export class StepCounter {
  private readonly counts = new Map<string, StepCounts>();

  /** Starts (or restarts) counting a route's step from zero. */
  watch(routeId: string): void {
    this.counts.set(routeId, emptyCounts());
  }

  unwatch(routeId: string): void {
    this.counts.delete(routeId);
  }

  record(sample: TrafficSample): void {
    const counts = this.counts.get(sample.routeId);
    if (counts === undefined) return;
    if (sample.fallback?.startsWith('fallthrough') === true) return;
    // A hedge that legacy won means modern was slow, not failed: its latency says so.
    const fellBack = sample.fallback !== undefined && sample.fallback !== 'hedge';
    const failed = sample.status >= 500 || (sample.side === 'modern' && fellBack);
    countRequest(counts, sample.side, failed, sample.durationMs);
  }

  /** The route's counts so far in this step (empty when it is not watched). */
  read(routeId: string): StepCounts {
    return this.counts.get(routeId) ?? emptyCounts();
  }
}
