import type { RolloutPlan } from './plan.js';
import type { SideFigures } from './step-window.js';

/**
 * `fail`: modern breaks the SLO against legacy: roll back now. `pass`: the hold is over with
 * enough traffic and the SLO holds: advance. `wait`: neither yet (holding, or too little traffic).
 */
export interface Verdict {
  kind: 'pass' | 'fail' | 'wait';
  /** Why, with the figures: "modern error rate 4.1% > legacy 0.2% + 1.0%". */
  reason: string;
}

/** Modern needs this many requests in the window before a check may fail it: a quarter of a step's, and at least 5. */
export function failCheckMinimum(plan: RolloutPlan): number {
  return Math.max(5, Math.ceil(plan.minRequests / 4));
}

/**
 * Judges modern against legacy over the current step's window. `legacy` is the legacy side to
 * compare with: this step's, or at 100% (no legacy traffic left) the step before's. `holdOver`
 * says whether the step has held for `holdMs`.
 */
export function judge(plan: RolloutPlan, modern: SideFigures, legacy: SideFigures, holdOver: boolean): Verdict {
  if (modern.requests >= failCheckMinimum(plan)) {
    const breach = sloBreach(plan, modern, legacy);
    if (breach !== undefined) return { kind: 'fail', reason: breach };
  }
  if (modern.requests < plan.minRequests) {
    return { kind: 'wait', reason: `waiting for traffic: ${modern.requests} of ${plan.minRequests} modern requests in this step` };
  }
  if (!holdOver) return { kind: 'wait', reason: `holding: ${modern.requests} modern requests, SLO met so far (${figures(modern, legacy)})` };
  return { kind: 'pass', reason: `SLO met over ${modern.requests} modern requests (${figures(modern, legacy)})` };
}

/** The first SLO modern breaks, as a sentence; undefined when it meets them all. */
function sloBreach(plan: RolloutPlan, modern: SideFigures, legacy: SideFigures): string | undefined {
  if (modern.errorRate > legacy.errorRate + plan.maxErrorRateDelta) {
    return `modern error rate ${pct(modern.errorRate)} > legacy ${pct(legacy.errorRate)} + ${pct(plan.maxErrorRateDelta)}`;
  }
  const p99 = modern.p99Ms;
  if (p99 === null) return undefined;
  if (legacy.p99Ms !== null) {
    const limit = Math.max(legacy.p99Ms * plan.maxLatencyRatio, legacy.p99Ms + plan.minLatencySlackMs);
    if (p99 > limit) {
      return (
        `modern p99 ${msOf(p99)} > max(legacy p99 ${msOf(legacy.p99Ms)} × ${plan.maxLatencyRatio}, ` +
        `${msOf(legacy.p99Ms)} + ${msOf(plan.minLatencySlackMs)}) = ${msOf(limit)}`
      );
    }
  }
  if (plan.maxP99Ms !== null && p99 > plan.maxP99Ms) return `modern p99 ${msOf(p99)} > the plan's maxP99Ms ${msOf(plan.maxP99Ms)}`;
  return undefined;
}

function figures(modern: SideFigures, legacy: SideFigures): string {
  const p99 = (v: number | null) => (v === null ? 'n/a' : msOf(v));
  return `error rate ${pct(modern.errorRate)} vs legacy ${pct(legacy.errorRate)}, p99 ${p99(modern.p99Ms)} vs ${p99(legacy.p99Ms)}`;
}

const pct = (v: number) => `${+(v * 100).toFixed(2)}%`;
const msOf = (v: number) => `${+v.toFixed(2)} ms`;
