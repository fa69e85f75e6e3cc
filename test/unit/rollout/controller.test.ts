import { describe, expect, it } from 'vitest';
import { abortRollout, pauseRollout, resumeRollout, startRollout, tick, type Move, type RolloutState, type Window } from '../../../src/rollout/controller.js';
import { RolloutPlan } from '../../../src/rollout/plan.js';
import { countRequest, emptyCounts, figuresOf, mergeCounts, type StepCounts } from '../../../src/rollout/step-window.js';

/** A rollout driven the way the gateway drives it: a fake clock, a check every checkMs, traffic counted per step. */
const plan = RolloutPlan.parse({ holdMs: 60_000, checkMs: 1_000, minRequests: 100 });

interface Traffic {
  /** Requests per check, split by the current percent. */
  perCheck: number;
  modernFails: (now: number) => number;
  modernMs: (now: number) => number;
  legacyMs?: number;
}

function drive(start: RolloutState, traffic: Traffic, untilMs: number, t0: number) {
  let state = start;
  let counts: StepCounts = emptyCounts();
  const moves: (Move & { at: number })[] = [];
  for (let now = t0 + plan.checkMs; now <= t0 + untilMs && (state.status === 'running' || state.status === 'paused'); now += plan.checkMs) {
    const modern = Math.round((traffic.perCheck * state.percent) / 100);
    for (let i = 0; i < traffic.perCheck; i++) {
      if (i < modern) countRequest(counts, 'modern', i < modern * traffic.modernFails(now), traffic.modernMs(now));
      else countRequest(counts, 'legacy', false, traffic.legacyMs ?? 20);
    }
    const window: Window = { modern: figuresOf(counts.modern), legacy: figuresOf(counts.legacy) };
    const result = tick(state, window, now);
    if (result.state.step !== state.step) counts = emptyCounts(); // a new step, a new window
    state = result.state;
    if (result.move) moves.push({ ...result.move, at: now });
  }
  return { state, moves };
}

function started(p = plan, t0 = 0): RolloutState {
  const result = startRollout(p, { stage: 'canary', shadow: null, force: false }, t0);
  if ('refusal' in result) throw new Error(result.refusal.message);
  expect(result.move).toMatchObject({ kind: 'step', stage: 'canary', percent: p.steps[0] });
  return result.state;
}

describe('the rollout controller', () => {
  it('walks a healthy modern through every step to modern, one step per hold', () => {
    const { state, moves } = drive(started(), { perCheck: 400, modernFails: () => 0, modernMs: () => 22 }, 3_600_000, 0);
    expect(state.status).toBe('completed');
    expect(moves.map((m) => `${m.kind}:${m.stage}:${m.percent}`)).toEqual(['step:canary:5', 'step:canary:25', 'step:canary:50', 'step:canary:100', 'complete:modern:100']);
    // Each step held for holdMs, never less.
    moves.forEach((m, i) => expect(m.at - (i === 0 ? 0 : moves[i - 1]!.at)).toBeGreaterThanOrEqual(plan.holdMs));
  });

  it('rolls back to legacy at the first check after modern starts failing at 25%, with the figures', () => {
    let failingFrom = Infinity;
    const traffic: Traffic = { perCheck: 400, modernFails: (now) => (now >= failingFrom ? 0.2 : 0), modernMs: () => 20 };
    const first = drive(started(), traffic, 130_000, 0); // through 1% and 5%
    expect(first.state.percent).toBe(25);
    failingFrom = 130_000 + plan.checkMs;
    const { state, moves } = drive(first.state, traffic, 60_000, 130_000);
    expect(state.status).toBe('rolled-back');
    expect(moves).toHaveLength(1);
    expect(moves[0]).toMatchObject({ kind: 'rollback', stage: 'legacy', percent: 0, at: failingFrom });
    expect(moves[0]!.reason).toMatch(/^rolled back at step 3 of 5 \(25%\): modern error rate \d+(\.\d+)?% > legacy 0% \+ 1%$/);
  });

  it('rolls back a modern slower than the latency SLO (p99 past max(legacy × 1.5, legacy + 50 ms))', () => {
    const { state, moves } = drive(started(RolloutPlan.parse({ ...plan, steps: [50, 100] })), { perCheck: 200, modernFails: () => 0, modernMs: () => 200, legacyMs: 20 }, 60_000, 0);
    expect(state.status).toBe('rolled-back');
    expect(moves[0]!.reason).toMatch(/modern p99 [\d.]+ ms > max\(legacy p99 [\d.]+ ms × 1\.5, [\d.]+ ms \+ 50 ms\) = [\d.]+ ms/);
    expect(moves[0]!.at).toBe(plan.checkMs); // at the first check: the window already held 100 modern requests
  });

  it('does not fail a step on fewer than a quarter of minRequests (and at least 5) modern requests', () => {
    // 1% of 100 a check: one modern request a check, every one failing; a check may fail the step from the 25th.
    const { state, moves } = drive(started(), { perCheck: 100, modernFails: () => 1, modernMs: () => 20 }, 60_000, 0);
    expect(state.status).toBe('rolled-back');
    expect(moves).toHaveLength(1);
    expect(moves[0]!.at).toBe(25_000);
  });

  it('never advances without traffic: it waits, and says so', () => {
    const { state, moves } = drive(started(), { perCheck: 0, modernFails: () => 0, modernMs: () => 1 }, 600_000, 0);
    expect(moves).toEqual([]);
    expect(state).toMatchObject({ status: 'running', step: 0, percent: 1 });
    expect(state.verdict?.reason).toBe('waiting for traffic: 0 of 100 modern requests in this step');
  });

  it('judges the 100% step against legacy’s figures from the step before', () => {
    const p = RolloutPlan.parse({ ...plan, steps: [50, 100] });
    const { state, moves } = drive(started(p), { perCheck: 200, modernFails: () => 0, modernMs: () => 25, legacyMs: 20 }, 200_000, 0);
    expect(state.status).toBe('completed');
    expect(moves.map((m) => m.kind)).toEqual(['step', 'complete']);
    expect(state.baseline?.requests).toBeGreaterThan(0);
  });

  it('pause holds the step (time paused does not count), resume continues it, abort returns to legacy', () => {
    let state = started();
    const paused = pauseRollout(state, 10_000);
    if ('refusal' in paused) throw new Error('refused');
    state = paused.state;
    const healthy: Traffic = { perCheck: 400, modernFails: () => 0, modernMs: () => 20 };
    expect(drive(state, healthy, 600_000, 10_000).moves).toEqual([]);
    const resumed = resumeRollout(state, 610_000);
    if ('refusal' in resumed) throw new Error('refused');
    expect(resumed.state.stepSince).toBe(600_000);
    const { moves } = drive(resumed.state, healthy, 120_000, 610_000);
    expect(moves[0]).toMatchObject({ kind: 'step', percent: 5, at: 660_000 });
    expect('refusal' in resumeRollout(resumed.state, 700_000)).toBe(true);

    const aborted = abortRollout(resumed.state, 'alice');
    if ('refusal' in aborted) throw new Error('refused');
    expect(aborted.move).toMatchObject({ kind: 'abort', stage: 'legacy', percent: 0, reason: 'rollout aborted by alice at step 1 of 5 (1%)' });
    expect(aborted.state.status).toBe('aborted');
    expect(abortRollout(aborted.state, 'bob')).toMatchObject({ refusal: { code: 'ROLLOUT_NOT_RUNNING' } });
    expect(tick(aborted.state, { modern: figuresOf(emptyCounts().modern), legacy: figuresOf(emptyCounts().legacy) }, 800_000).move).toBeUndefined();
  });

  it('starts from shadow only with enough comparisons at a good match rate, from legacy only with force', () => {
    const from = (stage: 'legacy' | 'shadow' | 'modern', shadow: { matchRate: number | null; compared: number } | null, force = false) =>
      startRollout(plan, { stage, shadow, force }, 0);
    expect(from('shadow', { matchRate: 0.995, compared: 500 })).toHaveProperty('move.reason', 'rollout started from shadow: step 1 of 5 (1%)');
    expect(from('shadow', { matchRate: 0.98, compared: 500 })).toMatchObject({ refusal: { code: 'ROLLOUT_NOT_READY', message: 'shadow match rate 98% < 99% (or "force": true)' } });
    expect(from('shadow', { matchRate: 1, compared: 99 })).toMatchObject({ refusal: { message: 'shadow has compared 99 requests; a rollout needs 100 (or "force": true)' } });
    expect(from('shadow', null)).toHaveProperty('refusal');
    expect(from('legacy', null)).toMatchObject({ refusal: { code: 'ROLLOUT_NOT_READY' } });
    expect(from('legacy', null, true)).toHaveProperty('move');
    expect(from('modern', null, true)).toMatchObject({ refusal: { message: 'the route is already modern' } });
  });
});

describe('step counts', () => {
  it('merge across gateways by adding buckets, so the p99 is of all requests', () => {
    const a = emptyCounts();
    const b = emptyCounts();
    for (let i = 0; i < 98; i++) countRequest(a, 'modern', false, 10);
    for (let i = 0; i < 2; i++) countRequest(b, 'modern', true, 500);
    const merged = figuresOf(mergeCounts([a, b]).modern);
    expect(merged.requests).toBe(100);
    expect(merged.errorRate).toBe(0.02);
    expect(merged.p99Ms).toBeGreaterThanOrEqual(500);
    expect(figuresOf(a.modern).p99Ms).toBeLessThan(13);
    expect(figuresOf(emptyCounts().legacy)).toEqual({ requests: 0, errorRate: 0, p99Ms: null });
  });
});
