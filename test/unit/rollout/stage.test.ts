import { describe, expect, it } from 'vitest';
import { DEFAULT_RETIRE_AFTER_MS, RETIRE_QUIET_MS, Stage, modeOfStage, refuseStageMove, type StageFacts } from '../../../src/rollout/stage.js';

const DAY = 86_400_000;
const now = 100 * DAY;
const longInModern: StageFacts = { modernSince: now - 8 * DAY, lastFallbackAt: null, retireAfterMs: DEFAULT_RETIRE_AFTER_MS };

describe('route stages', () => {
  it('each stage serves in its mode; retired serves modern', () => {
    expect(Stage.options.map(modeOfStage)).toEqual(['legacy', 'shadow', 'canary', 'modern', 'modern']);
  });

  it('forward one stage at a time; a skip needs force', () => {
    for (const [from, to] of [['legacy', 'shadow'], ['shadow', 'canary'], ['canary', 'modern']] as const) {
      expect(refuseStageMove(from, to, false, longInModern, now)).toBeUndefined();
    }
    expect(refuseStageMove('legacy', 'canary', false, longInModern, now)).toEqual({
      code: 'STAGE_SKIPPED',
      message: '"legacy" → "canary" skips "shadow"; move one stage at a time, or send "force": true',
    });
    expect(refuseStageMove('legacy', 'modern', false, longInModern, now)?.message).toMatch(/skips "shadow", "canary"/);
    expect(refuseStageMove('legacy', 'modern', true, longInModern, now)).toBeUndefined();
  });

  it('back to any earlier stage is allowed, except out of retired without force', () => {
    expect(refuseStageMove('modern', 'legacy', false, longInModern, now)).toBeUndefined();
    expect(refuseStageMove('canary', 'shadow', false, longInModern, now)).toBeUndefined();
    expect(refuseStageMove('retired', 'modern', false, longInModern, now)?.code).toBe('STAGE_RETIRED');
    expect(refuseStageMove('retired', 'legacy', true, longInModern, now)).toBeUndefined();
  });

  it('retired only after retireAfterMs in modern with no fallback for a day, or with force', () => {
    expect(refuseStageMove('modern', 'retired', false, longInModern, now)).toBeUndefined();
    const young = { ...longInModern, modernSince: now - 2 * DAY };
    expect(refuseStageMove('modern', 'retired', false, young, now)).toEqual({
      code: 'RETIRE_TOO_EARLY',
      message: 'the route has served from modern for 2 days; it may retire after 7 days (or with "force": true)',
    });
    expect(refuseStageMove('modern', 'retired', true, young, now)).toBeUndefined();
    const fellBack = { ...longInModern, lastFallbackAt: now - RETIRE_QUIET_MS / 2 };
    expect(refuseStageMove('modern', 'retired', false, fellBack, now)?.message).toMatch(/fell back to legacy 0\.5 days ago/);
    expect(refuseStageMove('modern', 'retired', false, { ...fellBack, lastFallbackAt: now - RETIRE_QUIET_MS }, now)).toBeUndefined();
    expect(refuseStageMove('canary', 'retired', false, longInModern, now)?.code).toBe('STAGE_SKIPPED');
  });
});
