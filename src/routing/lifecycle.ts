import { GatewayError } from '../errors.js';
import { modeOfStage, type Stage } from '../rollout/stage.js';
import type { Mode, ResilienceSettings } from './schema.js';

/**
 * Keeps a route's `mode` and `stage` in step: the stage decides the mode; a mode set on its own
 * (PATCH, flip, a route file without a stage) moves the stage to match, except that a retired
 * route stays retired while it serves modern and cannot be sent back to legacy that way.
 */
export function reconcileStage(mode: Mode | undefined, stage: Stage | undefined, current?: { mode: Mode; stage: Stage }): { mode: Mode; stage: Stage } {
  if (stage !== undefined) {
    const derived = modeOfStage(stage);
    if (mode !== undefined && mode !== derived) {
      throw new GatewayError('VALIDATION_FAILED', `mode: "${mode}" disagrees with stage "${stage}" (which serves "${derived}"); send one of them`);
    }
    return { mode: derived, stage };
  }
  if (current === undefined) return { mode: mode ?? 'legacy', stage: mode ?? 'legacy' };
  if (mode === undefined || mode === current.mode) return { mode: current.mode, stage: current.stage };
  if (current.stage === 'retired') {
    throw new GatewayError('STAGE_RETIRED', `the route is retired: legacy may no longer have its code; move it with POST /routes/:id/stage and "force": true`);
  }
  return { mode, stage: mode };
}

/** A retired route serves modern only: nothing may send its requests to legacy. */
export function assertRetiredServesModernOnly(stage: Stage, r: ResilienceSettings): void {
  if (stage !== 'retired') return;
  if (r.fallback || r.fallthroughStatuses.length > 0 || r.hedgeAfterMs !== null) {
    throw new GatewayError('VALIDATION_FAILED', 'resilience: a retired route serves modern only: fallback must be false, fallthroughStatuses empty and hedgeAfterMs null');
  }
}

/** The resilience settings a route takes as it retires: every way back to legacy turned off. */
export function retiredResilience(r: ResilienceSettings): ResilienceSettings {
  return { ...r, fallback: false, fallthroughStatuses: [], hedgeAfterMs: null, hedgePercentile: null };
}

/** A stored route snapshot (a history row's JSON) from before stages existed takes its mode as its stage. */
export function withStage(snapshot: Record<string, unknown>): Record<string, unknown> {
  return snapshot.stage === undefined ? { ...snapshot, stage: snapshot.mode } : snapshot;
}
