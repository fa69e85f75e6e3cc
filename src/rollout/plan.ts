import { z } from 'zod';

/**
 * How a rollout moves a route to modern and what it holds modern to, judged against legacy on
 * the same route. Flat fields, each with a default, so a plan can name only what it changes;
 * any positive durations are accepted, so a test can run a whole rollout in seconds.
 */
export const RolloutPlan = z
  .object({
    /** Modern's share at each step, in percent, rising. */
    steps: z
      .array(z.number().int().min(1).max(100))
      .min(1)
      .max(20)
      .refine((s) => s.every((p, i) => i === 0 || p > s[i - 1]!), { message: 'must rise: each step above the one before' })
      .default([1, 5, 25, 50, 100]),
    /** How long each step holds before it may advance: 5 minutes. */
    holdMs: z.number().int().min(1).max(30 * 24 * 3_600_000).default(300_000),
    /** How often the SLO is checked during a hold: 10 s. */
    checkMs: z.number().int().min(1).max(3_600_000).default(10_000),
    /** Modern requests a step needs before it may advance (a step never advances on no data). */
    minRequests: z.number().int().min(1).max(10_000_000).default(100),
    /** Modern's error rate may exceed legacy's by this much (0.01: one point). */
    maxErrorRateDelta: z.number().min(0).max(1).default(0.01),
    /** Modern's p99 may be this many times legacy's… */
    maxLatencyRatio: z.number().min(1).max(1000).default(1.5),
    /** …or legacy's plus this many ms, whichever is larger (a fast legacy leaves no room otherwise). */
    minLatencySlackMs: z.number().min(0).max(600_000).default(50),
    /** An absolute ceiling on modern's p99, whatever legacy does; null for none. */
    maxP99Ms: z.number().positive().max(600_000).nullable().default(null),
    /** A rollout from `shadow` needs at least this match rate over at least `minRequests` comparisons. */
    minShadowMatchRate: z.number().min(0).max(1).default(0.99),
  })
  .strict();
export type RolloutPlan = z.infer<typeof RolloutPlan>;

export const DEFAULT_ROLLOUT_PLAN: RolloutPlan = RolloutPlan.parse({});
