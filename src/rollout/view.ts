import { z } from 'zod';
import { RolloutPlan } from './plan.js';

const Figures = z.object({ requests: z.number().int(), errorRate: z.number(), p99Ms: z.number().nullable() });

/** What `GET /routes/:id/rollout` answers: the controller's state, the step's window on both sides, the leader. */
export const RolloutView = z.object({
  routeId: z.string(),
  status: z.enum(['running', 'paused', 'completed', 'rolled-back', 'aborted']),
  plan: RolloutPlan,
  step: z.number().int(),
  percent: z.number().int(),
  /** When the current step's window began (ms since the epoch). */
  stepSince: z.number(),
  pausedAt: z.number().nullable(),
  /** Legacy's figures over the step before: what the 100% step is judged against. */
  baseline: Figures.nullable(),
  verdict: z.object({ kind: z.enum(['pass', 'fail', 'wait']), reason: z.string(), at: z.number() }).nullable(),
  /** The current step's figures, summed over every gateway's requests; at the end, those the last verdict read. */
  window: z.object({ modern: Figures, legacy: Figures }),
  /** The gateway driving the rollout (host:pid), the holder of its lease in the store. */
  leader: z.string(),
  /** Until when the leader's lease runs (ms since the epoch); another gateway takes over once it has passed. */
  leaseUntil: z.number(),
});
export type RolloutView = z.infer<typeof RolloutView>;
