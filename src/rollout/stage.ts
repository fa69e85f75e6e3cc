import { z } from 'zod';
/**
 * Where a route is in its migration, in order. `mode` follows from it; `retired` serves modern
 * only, with fallback and fall-through to legacy off: legacy never sees the prefix again, which
 * is the moment its code can be deleted.
 */
export const Stage = z.enum(['legacy', 'shadow', 'canary', 'modern', 'retired']);
export type Stage = z.infer<typeof Stage>;

const ORDER: readonly Stage[] = Stage.options;

/** A route must be clear of fallbacks for this long before it may retire. */
export const RETIRE_QUIET_MS = 24 * 60 * 60 * 1000;

/** 7 days in `modern` before `retired`: long enough for weekly jobs and month-end pages to have run on modern. */
export const DEFAULT_RETIRE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

/** The mode a stage serves in (`retired` is `modern` with no way back to legacy). */
export function modeOfStage(stage: Stage): Exclude<Stage, 'retired'> {
  return stage === 'retired' ? 'modern' : stage;
}

/** What the retire rule needs to know about a route's past. */
export interface StageFacts {
  /** When the route last entered `modern`; null when it is not there. */
  modernSince: number | null;
  /** Its last fallback to legacy; null for none. */
  lastFallbackAt: number | null;
  retireAfterMs: number;
}

export type StageRefusal = { code: 'STAGE_SKIPPED' | 'STAGE_RETIRED' | 'RETIRE_TOO_EARLY'; message: string };

/**
 * Whether `from` → `to` is allowed: forward one stage at a time, back to any earlier stage, out
 * of `retired` and past a stage only with `force`, and into `retired` only after the route has
 * served from `modern` for `retireAfterMs` with no fallback in the last day. Undefined when it is.
 */
export function refuseStageMove(from: Stage, to: Stage, force: boolean, facts: StageFacts, now: number): StageRefusal | undefined {
  if (from === to || force) return undefined;
  const [a, b] = [ORDER.indexOf(from), ORDER.indexOf(to)];
  if (from === 'retired') {
    return { code: 'STAGE_RETIRED', message: `the route is retired: legacy may no longer have its code; moving it back to "${to}" needs "force": true` };
  }
  if (b > a + 1) {
    const skipped = ORDER.slice(a + 1, b).join('", "');
    return { code: 'STAGE_SKIPPED', message: `"${from}" → "${to}" skips "${skipped}"; move one stage at a time, or send "force": true` };
  }
  if (to === 'retired') return refuseRetire(facts, now);
  return undefined;
}

function refuseRetire(facts: StageFacts, now: number): StageRefusal | undefined {
  const days = (ms: number) => `${+(ms / 86_400_000).toFixed(2)} days`;
  if (facts.modernSince === null || now - facts.modernSince < facts.retireAfterMs) {
    const served = facts.modernSince === null ? 0 : now - facts.modernSince;
    return { code: 'RETIRE_TOO_EARLY', message: `the route has served from modern for ${days(served)}; it may retire after ${days(facts.retireAfterMs)} (or with "force": true)` };
  }
  if (facts.lastFallbackAt !== null && now - facts.lastFallbackAt < RETIRE_QUIET_MS) {
    return { code: 'RETIRE_TOO_EARLY', message: `the route fell back to legacy ${days(now - facts.lastFallbackAt)} ago; it may retire after a day without fallbacks (or with "force": true)` };
  }
  return undefined;
}
