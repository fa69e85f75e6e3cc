import { z } from 'zod';
import { percentile } from '../observe/traffic-window.js';
import { Mode } from '../routing/schema.js';
import { SKIP_REASONS } from './sampling.js';
import type { ShadowCounts } from './tally.js';

/** The differing paths a report lists, most frequent first. */
export const TOP_PATHS = 10;

const Percentiles = z.object({ p50: z.number().nullable(), p99: z.number().nullable() });
export const ShadowDifference = z.object({ path: z.string(), legacy: z.string(), modern: z.string() });

/** `GET /routes/:id/shadow`: what shadow comparisons found on a route (all gateways on the database). */
export const ShadowReport = z.object({
  routeId: z.string(),
  mode: Mode,
  /** When the counts started (the last DELETE or the first comparison); null if none. */
  since: z.string().nullable(),
  /** Copies compared: matched + mismatched + errors. */
  compared: z.number().int(),
  matched: z.number().int(),
  mismatched: z.number().int(),
  /** Modern failed or timed out. */
  errors: z.number().int(),
  skipped: z.object({ total: z.number().int(), byReason: z.object(Object.fromEntries(SKIP_REASONS.map((r) => [r, z.number().int()]))) }),
  /** matched / (matched + mismatched); null when both are 0. */
  matchRate: z.number().nullable(),
  /** Milliseconds (bucket upper bounds), on the copied requests; null when unknown. */
  latency: z.object({ modern: Percentiles, legacy: Percentiles }),
  topPaths: z.array(z.object({ path: z.string(), count: z.number().int() })),
  noiseFields: z.array(z.string()),
  samples: z.array(
    z.object({
      at: z.string(),
      method: z.string(),
      path: z.string(),
      legacyStatus: z.number().int(),
      modernStatus: z.number().int(),
      differences: z.array(ShadowDifference),
    }),
  ),
});
export type ShadowReport = z.infer<typeof ShadowReport>;

export function matchRate(counts: Pick<ShadowCounts, 'matched' | 'mismatched'>): number | null {
  const judged = counts.matched + counts.mismatched;
  return judged === 0 ? null : Math.round((counts.matched / judged) * 10_000) / 10_000;
}

export function shadowReport(routeId: string, mode: Mode, counts: ShadowCounts): ShadowReport {
  const byReason = Object.fromEntries(SKIP_REASONS.map((r) => [r, counts.skipped[r] ?? 0]));
  const side = (buckets: number[]) => {
    const n = buckets.reduce((a, b) => a + b, 0);
    return { p50: percentile(buckets, n, 0.5), p99: percentile(buckets, n, 0.99) };
  };
  return {
    routeId,
    mode,
    since: counts.since,
    compared: counts.compared,
    matched: counts.matched,
    mismatched: counts.mismatched,
    errors: counts.errors,
    skipped: { total: Object.values(byReason).reduce((a, b) => a + b, 0), byReason },
    matchRate: matchRate(counts),
    latency: { modern: side(counts.latency.modern), legacy: side(counts.latency.legacy) },
    topPaths: Object.entries(counts.paths)
      .sort(([pa, a], [pb, b]) => b - a || pa.localeCompare(pb))
      .slice(0, TOP_PATHS)
      .map(([path, count]) => ({ path, count })),
    noiseFields: counts.noise,
    samples: counts.samples,
  };
}
