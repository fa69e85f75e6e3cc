import type { RolloutPlan } from './plan.js';
import type { Stage } from './stage.js';
import type { SideFigures } from './step-window.js';
import { judge, type Verdict } from './verdict.js';

/**
 * The rollout state machine, pure: the driver (one gateway, the lease holder) calls `tick`
 * every `checkMs` with the current step's window, merged over every gateway, and turns each
 * move it answers into a route change with its history row (actor `rollout`).
 */
export type RolloutStatus = 'running' | 'paused' | 'completed' | 'rolled-back' | 'aborted';

export interface RolloutState {
  status: RolloutStatus;
  plan: RolloutPlan;
  /** Index into plan.steps. */
  step: number;
  percent: number;
  /** When the current step's window began (moved on by a pause, which holds the step). */
  stepSince: number;
  pausedAt: number | null;
  /** Legacy's figures over the step before: what the 100% step, with no legacy traffic left, is judged against. */
  baseline: SideFigures | null;
  verdict: (Verdict & { at: number }) | null;
}

/** A route change the driver makes: `step` (the first included), `complete` (to modern), `rollback` or `abort` (to legacy). */
export interface Move {
  kind: 'step' | 'complete' | 'rollback' | 'abort';
  stage: Extract<Stage, 'canary' | 'modern' | 'legacy'>;
  percent: number;
  reason: string;
}

export interface Refusal {
  code: 'ROLLOUT_NOT_READY' | 'ROLLOUT_NOT_RUNNING';
  message: string;
}

/** What a start needs to know of the route. */
export interface StartFacts {
  stage: Stage;
  /** The route's shadow results; null when it never ran shadow. */
  shadow: { matchRate: number | null; compared: number } | null;
  force: boolean;
}

export interface Window {
  modern: SideFigures;
  legacy: SideFigures;
}

/** Starts from `shadow` (with a good enough match rate), from `canary`, or from `legacy` with `force`. */
export function startRollout(plan: RolloutPlan, facts: StartFacts, now: number): { state: RolloutState; move: Move } | { refusal: Refusal } {
  const refusal = refuseStart(plan, facts);
  if (refusal !== undefined) return { refusal };
  const percent = plan.steps[0]!;
  const state: RolloutState = { status: 'running', plan, step: 0, percent, stepSince: now, pausedAt: null, baseline: null, verdict: null };
  return { state, move: { kind: 'step', stage: 'canary', percent, reason: `rollout started from ${facts.stage}: ${stepName(plan, 0)}` } };
}

function refuseStart(plan: RolloutPlan, { stage, shadow, force }: StartFacts): Refusal | undefined {
  const notReady = (message: string): Refusal => ({ code: 'ROLLOUT_NOT_READY', message });
  if (stage === 'modern' || stage === 'retired') return notReady(`the route is already ${stage}`);
  if (force || stage === 'canary') return undefined;
  if (stage === 'legacy') return notReady('a rollout starts from shadow or canary; from legacy it needs "force": true');
  const compared = shadow?.compared ?? 0;
  const rate = shadow?.matchRate ?? null;
  if (compared < plan.minRequests) return notReady(`shadow has compared ${compared} requests; a rollout needs ${plan.minRequests} (or "force": true)`);
  if (rate === null || rate < plan.minShadowMatchRate) {
    return notReady(`shadow match rate ${rate === null ? 'n/a' : pct(rate)} < ${pct(plan.minShadowMatchRate)} (or "force": true)`);
  }
  return undefined;
}

/** One check: roll back on a failing SLO, advance at the end of a hold that passed, otherwise wait. */
export function tick(state: RolloutState, window: Window, now: number): { state: RolloutState; move?: Move } {
  if (state.status !== 'running') return { state };
  const { plan } = state;
  // With every request on modern, legacy's window is empty: compare with the step before's.
  const legacy = window.legacy.requests === 0 && state.baseline !== null ? state.baseline : window.legacy;
  const verdict = judge(plan, window.modern, legacy, now - state.stepSince >= plan.holdMs);
  const judged = { ...state, verdict: { ...verdict, at: now } };
  const at = `${stepName(plan, state.step)}`;
  if (verdict.kind === 'wait') return { state: judged };
  if (verdict.kind === 'fail') {
    return { state: { ...judged, status: 'rolled-back', percent: 0 }, move: { kind: 'rollback', stage: 'legacy', percent: 0, reason: `rolled back at ${at}: ${verdict.reason}` } };
  }
  if (state.step === plan.steps.length - 1) {
    return { state: { ...judged, status: 'completed', percent: 100 }, move: { kind: 'complete', stage: 'modern', percent: 100, reason: `rollout complete after ${at}: ${verdict.reason}` } };
  }
  const step = state.step + 1;
  const percent = plan.steps[step]!;
  const baseline = window.legacy.requests > 0 ? window.legacy : state.baseline;
  return {
    state: { ...judged, step, percent, stepSince: now, baseline },
    move: { kind: 'step', stage: 'canary', percent, reason: `${stepName(plan, step)}; ${at} passed: ${verdict.reason}` },
  };
}

/** Holds the current step until `resumeRollout`; checks neither advance nor fail it meanwhile. */
export function pauseRollout(state: RolloutState, now: number): { state: RolloutState } | { refusal: Refusal } {
  if (state.status !== 'running') return { refusal: notRunning(state) };
  return { state: { ...state, status: 'paused', pausedAt: now } };
}

/** Continues the step where it was: the time paused does not count toward its hold. */
export function resumeRollout(state: RolloutState, now: number): { state: RolloutState } | { refusal: Refusal } {
  if (state.status !== 'paused' || state.pausedAt === null) return { refusal: { code: 'ROLLOUT_NOT_RUNNING', message: `the rollout is ${state.status}, not paused` } };
  return { state: { ...state, status: 'running', pausedAt: null, stepSince: state.stepSince + (now - state.pausedAt) } };
}

/** Stops the rollout and returns the route to legacy. */
export function abortRollout(state: RolloutState, who: string): { state: RolloutState; move: Move } | { refusal: Refusal } {
  if (state.status !== 'running' && state.status !== 'paused') return { refusal: notRunning(state) };
  return { state: { ...state, status: 'aborted', percent: 0 }, move: { kind: 'abort', stage: 'legacy', percent: 0, reason: `rollout aborted by ${who} at ${stepName(state.plan, state.step)}` } };
}

function notRunning(state: RolloutState): Refusal {
  return { code: 'ROLLOUT_NOT_RUNNING', message: `the rollout is ${state.status}` };
}

const stepName = (plan: RolloutPlan, i: number) => `step ${i + 1} of ${plan.steps.length} (${plan.steps[i]}%)`;
const pct = (v: number) => `${+(v * 100).toFixed(2)}%`;
