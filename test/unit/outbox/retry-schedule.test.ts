import { describe, expect, it } from 'vitest';
import { DEFAULT_RELAY_POLICY, resultOfStatus, settle } from '../../../src/outbox/retry-schedule.js';
import { lcg } from '../resilience/fake-clock.js';

const policy = { ...DEFAULT_RELAY_POLICY, baseMs: 1_000, capMs: 60_000 };
const T = 1_900_000_000_000;

describe('settle', () => {
  it('a 2xx is delivered, counting the attempt', () => {
    expect(settle({ ok: true }, 2, T, policy, () => 0.5)).toEqual({ delivered: true, attempts: 3, at: T });
  });

  it('a failure is due again after full jitter of base × 2^(attempts so far), up to the cap', () => {
    const top = () => 0.999_999;
    const bounds = [0, 1, 2, 3, 4, 5, 6, 7, 20].map((attempts) => {
      const s = settle({ ok: false, error: 'HTTP 503' }, attempts, T, policy, top);
      if (s.delivered) throw new Error('delivered');
      expect(s).toMatchObject({ attempts: attempts + 1, error: 'HTTP 503' });
      return s.nextAttemptAt - T;
    });
    expect(bounds).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('spreads retries over the whole window, never past it, and never gives up', () => {
    const random = lcg(7);
    for (let attempts = 0; attempts < 200; attempts++) {
      const s = settle({ ok: false, error: 'ECONNREFUSED' }, attempts, T, policy, random);
      expect(s.delivered).toBe(false);
      if (s.delivered) continue;
      expect(Number.isInteger(s.nextAttemptAt)).toBe(true);
      expect(s.nextAttemptAt).toBeGreaterThanOrEqual(T);
      expect(s.nextAttemptAt).toBeLessThanOrEqual(T + Math.min(policy.capMs, policy.baseMs * 2 ** attempts));
    }
  });
});

describe('resultOfStatus', () => {
  it.each([
    [200, true],
    [204, true],
    [299, true],
    [301, false],
    [404, false],
    [429, false],
    [503, false],
  ])('%i delivered: %s', (status, ok) => {
    expect(resultOfStatus(status).ok).toBe(ok);
  });
});
