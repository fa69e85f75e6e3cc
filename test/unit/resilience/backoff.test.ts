import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, fullJitterDelay } from '../../../src/resilience/backoff.js';
import { lcg } from './fake-clock.js';

const half = () => 0.5;
const almostOne = () => 1 - Number.EPSILON;

describe('fullJitterDelay', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_BACKOFF).toEqual({ baseMs: 25, capMs: 1_000 });
  });

  it('stays in [0, min(cap, base * 2^attempt)) for any random in [0, 1)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, capMs, r) => {
          const bound = Math.min(capMs, baseMs * 2 ** attempt);
          const delay = fullJitterDelay(attempt, baseMs, capMs, () => r);
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          if (bound > 0) expect(delay).toBeLessThan(bound);
          else expect(delay).toBe(0);
        },
      ),
    );
  });

  it('is exactly random() * the bound', () => {
    expect(fullJitterDelay(0, 25, 1_000, () => 0)).toBe(0);
    expect(fullJitterDelay(0, 25, 1_000, () => 0.2)).toBe(5);
    expect(fullJitterDelay(2, 25, 1_000, () => 0.75)).toBe(75);
    expect(fullJitterDelay(2, 25, 1_000, almostOne)).toBeLessThan(100);
    expect(fullJitterDelay(2, 25, 1_000, almostOne)).toBeGreaterThan(99.99);
  });

  it('doubles the bound with each attempt (attempt 0 = first retry)', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => fullJitterDelay(n, 25, 1_000, half))).toEqual([12.5, 25, 50, 100, 200, 400]);
  });

  it('stops growing at the cap', () => {
    expect([5, 6, 7, 20].map((n) => fullJitterDelay(n, 25, 1_000, half))).toEqual([400, 500, 500, 500]);
    expect(fullJitterDelay(3, 25, 150, half)).toBe(75); // 25 * 8 = 200, capped at 150
  });

  it('stays finite when 2 ** attempt overflows, and is 0 for a zero base', () => {
    expect(fullJitterDelay(5_000, 25, 1_000, half)).toBe(500);
    expect(fullJitterDelay(5_000, 0, 1_000, half)).toBe(0);
    expect(fullJitterDelay(3, 25, 0, half)).toBe(0);
  });

  it.each<[string, number, number, number]>([
    ['a negative attempt', -1, 25, 1_000],
    ['a fractional attempt', 1.5, 25, 1_000],
    ['a NaN attempt', Number.NaN, 25, 1_000],
    ['a negative base', 0, -1, 1_000],
    ['an infinite base', 0, Number.POSITIVE_INFINITY, 1_000],
    ['a negative cap', 0, 25, -1],
    ['a NaN cap', 0, 25, Number.NaN],
  ])('throws a RangeError for %s', (_name, attempt, baseMs, capMs) => {
    expect(() => fullJitterDelay(attempt, baseMs, capMs, half)).toThrow(RangeError);
  });

  it('spreads delays over the whole range: the mean of 10,000 draws is within 10% of half the bound', () => {
    const random = lcg(42);
    const bound = 200; // attempt 3 with the defaults
    const draws = Array.from({ length: 10_000 }, () => fullJitterDelay(3, DEFAULT_BACKOFF.baseMs, DEFAULT_BACKOFF.capMs, random));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    expect(Math.abs(mean - bound / 2)).toBeLessThan(0.1 * (bound / 2));
    expect(Math.min(...draws)).toBeLessThan(0.01 * bound);
    expect(Math.max(...draws)).toBeGreaterThan(0.99 * bound);
    // Every tenth of the range gets roughly a tenth of the draws: no waves.
    const deciles = new Array<number>(10).fill(0);
    for (const d of draws) deciles[Math.floor((d / bound) * 10)]!++;
    for (const count of deciles) expect(count).toBeGreaterThan(800);
  });

  it('gives a herd of clients different delays for the same attempt', () => {
    const random = lcg(7);
    const delays = new Set(Array.from({ length: 100 }, () => fullJitterDelay(4, 25, 1_000, random)));
    expect(delays.size).toBe(100);
  });
});
