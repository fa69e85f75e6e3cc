import { describe, expect, it } from 'vitest';
import { DEFAULT_ROLLOUT_PLAN, RolloutPlan } from '../../../src/rollout/plan.js';
import { judge } from '../../../src/rollout/verdict.js';

describe('rollout plans', () => {
  it('have the documented defaults', () => {
    expect(DEFAULT_ROLLOUT_PLAN).toEqual({
      steps: [1, 5, 25, 50, 100],
      holdMs: 300_000,
      checkMs: 10_000,
      minRequests: 100,
      maxErrorRateDelta: 0.01,
      maxLatencyRatio: 1.5,
      minLatencySlackMs: 50,
      maxP99Ms: null,
      minShadowMatchRate: 0.99,
    });
  });

  it('refuse steps that do not rise, unknown fields and non-positive durations', () => {
    expect(RolloutPlan.safeParse({ steps: [5, 5] }).success).toBe(false);
    expect(RolloutPlan.safeParse({ steps: [] }).success).toBe(false);
    expect(RolloutPlan.safeParse({ steps: [0, 100] }).success).toBe(false);
    expect(RolloutPlan.safeParse({ holdMs: 0 }).success).toBe(false);
    expect(RolloutPlan.safeParse({ hold: 5 }).success).toBe(false);
    expect(RolloutPlan.parse({ steps: [10, 100], holdMs: 50, checkMs: 5 })).toMatchObject({ steps: [10, 100], holdMs: 50, checkMs: 5 });
  });
});

describe('the verdict', () => {
  const figures = (requests: number, errorRate: number, p99Ms: number | null) => ({ requests, errorRate, p99Ms });
  const plan = RolloutPlan.parse({ maxP99Ms: 300 });

  it('fails on error rate relative to legacy, not absolutely', () => {
    expect(judge(plan, figures(200, 0.05, 10), figures(1000, 0.045, 10), false).kind).toBe('wait');
    expect(judge(plan, figures(200, 0.05, 10), figures(1000, 0.02, 10), false)).toEqual({ kind: 'fail', reason: 'modern error rate 5% > legacy 2% + 1%' });
  });

  it('gives a fast legacy the slack: max(legacy × ratio, legacy + slack), then the absolute ceiling', () => {
    expect(judge(plan, figures(200, 0, 55), figures(1000, 0, 4), true)).toEqual({
      kind: 'fail',
      reason: 'modern p99 55 ms > max(legacy p99 4 ms × 1.5, 4 ms + 50 ms) = 54 ms',
    });
    expect(judge(plan, figures(200, 0, 53), figures(1000, 0, 4), true).kind).toBe('pass');
    expect(judge(plan, figures(200, 0, 250), figures(1000, 0, 200), true).kind).toBe('pass');
    expect(judge(plan, figures(200, 0, 310), figures(1000, 0, 250), true)).toEqual({ kind: 'fail', reason: "modern p99 310 ms > the plan's maxP99Ms 300 ms" });
  });

  it('passes only at the end of a hold with minRequests', () => {
    expect(judge(plan, figures(99, 0, 10), figures(1000, 0, 10), true).reason).toBe('waiting for traffic: 99 of 100 modern requests in this step');
    expect(judge(plan, figures(100, 0, 10), figures(1000, 0, 10), false).reason).toMatch(/^holding: 100 modern requests, SLO met so far/);
    expect(judge(plan, figures(100, 0, 10), figures(1000, 0, 10), true).kind).toBe('pass');
  });
});
