import { bucketOf, percentile } from '../observe/traffic-window.js';
import type { Side } from '../routing/schema.js';

/**
 * One side of one route over the current rollout step: mergeable counts (each gateway publishes
 * its own; the leader adds them up), so a p99 over several gateways is read from their summed
 * latency buckets, never averaged from their p99s.
 */
export interface SideCounts {
  requests: number;
  /** Modern: every modern-bound request modern failed (5xx, timeout, connect error), fallback or not. Legacy: its 5xx. */
  failures: number;
  /** Requests per latency bucket (observe/traffic-window.ts), sparse: bucket index → count. */
  latency: Record<number, number>;
}

export type StepCounts = Record<Side, SideCounts>;

export function emptyCounts(): StepCounts {
  return { legacy: { requests: 0, failures: 0, latency: {} }, modern: { requests: 0, failures: 0, latency: {} } };
}

/** Counts one request into `counts`. */
export function countRequest(counts: StepCounts, side: Side, failed: boolean, ms: number): void {
  const c = counts[side];
  c.requests++;
  if (failed) c.failures++;
  const b = bucketOf(ms);
  c.latency[b] = (c.latency[b] ?? 0) + 1;
}

/** The sum of several gateways' counts. */
export function mergeCounts(all: readonly StepCounts[]): StepCounts {
  const out = emptyCounts();
  for (const counts of all) {
    for (const side of ['legacy', 'modern'] as const) {
      const [to, from] = [out[side], counts[side]];
      to.requests += from.requests;
      to.failures += from.failures;
      for (const [b, n] of Object.entries(from.latency)) to.latency[Number(b)] = (to.latency[Number(b)] ?? 0) + n;
    }
  }
  return out;
}

/** What the verdict reads of one side. */
export interface SideFigures {
  requests: number;
  errorRate: number;
  /** Upper bound of the bucket holding the 99th percentile; null without requests. */
  p99Ms: number | null;
}

export function figuresOf(c: SideCounts): SideFigures {
  return { requests: c.requests, errorRate: c.requests === 0 ? 0 : c.failures / c.requests, p99Ms: percentile(c.latency, c.requests, 0.99) };
}
