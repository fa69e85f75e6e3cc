import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_BUDGET, RetryBudget, type RetryBudgetOptions } from '../../../src/resilience/retry-budget.js';
import { fakeClock } from './fake-clock.js';

function retriesGranted(budget: RetryBudget, wanted: number): number {
  let granted = 0;
  for (let i = 0; i < wanted; i++) if (budget.tryRetry()) granted++;
  return granted;
}

function requests(budget: RetryBudget, n: number): void {
  for (let i = 0; i < n; i++) budget.recordRequest();
}

describe('RetryBudget', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_RETRY_BUDGET).toEqual({ ratio: 0.2, windowMs: 10_000, minRetriesPerSecond: 5 });
    expect(new RetryBudget({}, fakeClock()).options).toEqual(DEFAULT_RETRY_BUDGET);
    expect(new RetryBudget({ ratio: undefined, windowMs: 5_000 }, fakeClock()).options).toEqual({ ...DEFAULT_RETRY_BUDGET, windowMs: 5_000 });
  });

  it('lets retries add 20% of the requests in the window', () => {
    const budget = new RetryBudget({ minRetriesPerSecond: 0 }, fakeClock());
    requests(budget, 100);
    expect(budget.snapshot()).toEqual({ requests: 100, retries: 0, allowed: 20 });
    expect(retriesGranted(budget, 25)).toBe(20);
    expect(budget.snapshot()).toEqual({ requests: 100, retries: 20, allowed: 0 });
  });

  it('rounds the ratio down', () => {
    const budget = new RetryBudget({ minRetriesPerSecond: 0 }, fakeClock());
    requests(budget, 9); // 1.8 retries
    expect(budget.snapshot().allowed).toBe(1);
    requests(budget, 1);
    expect(budget.snapshot().allowed).toBe(2);
  });

  it('refuses without recording anything', () => {
    const budget = new RetryBudget({ minRetriesPerSecond: 0 }, fakeClock());
    expect(budget.tryRetry()).toBe(false);
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 0, allowed: 0 });
    requests(budget, 5);
    expect(budget.tryRetry()).toBe(true); // not held back by the earlier refusal
  });

  it('grants a floor of minRetriesPerSecond * window seconds to a quiet backend', () => {
    const budget = new RetryBudget({}, fakeClock());
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 0, allowed: 50 });
    expect(retriesGranted(budget, 60)).toBe(50);
    const small = new RetryBudget({ windowMs: 1_000, minRetriesPerSecond: 3 }, fakeClock());
    expect(retriesGranted(small, 10)).toBe(3);
  });

  it('adds the floor to the ratio', () => {
    const budget = new RetryBudget({}, fakeClock());
    requests(budget, 10);
    expect(budget.snapshot().allowed).toBe(52);
  });

  it('lets a flood of 1,000 requests, each wanting a retry, retry about 200 + floor times', () => {
    const budget = new RetryBudget({}, fakeClock());
    let granted = 0;
    for (let i = 0; i < 1_000; i++) {
      budget.recordRequest();
      if (budget.tryRetry()) granted++;
    }
    expect(granted).toBe(200 + 50);
    expect(budget.snapshot()).toEqual({ requests: 1_000, retries: 250, allowed: 0 });
  });

  it('forgets requests and retries once they leave the window, to the millisecond', () => {
    const clock = fakeClock(0);
    const budget = new RetryBudget({ minRetriesPerSecond: 0 }, clock);
    requests(budget, 100);
    expect(retriesGranted(budget, 20)).toBe(20);
    clock.set(9_999);
    expect(budget.snapshot()).toEqual({ requests: 100, retries: 20, allowed: 0 });
    clock.set(10_000);
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 0, allowed: 0 });
  });

  it('slides one second at a time', () => {
    const clock = fakeClock(0);
    const budget = new RetryBudget({ minRetriesPerSecond: 0 }, clock);
    for (let s = 0; s < 10; s++) {
      clock.set(s * 1_000 + 500);
      requests(budget, 10);
    }
    expect(budget.snapshot().requests).toBe(100);
    clock.set(10_000);
    expect(budget.snapshot().requests).toBe(90); // second 0 dropped
    clock.set(14_999);
    expect(budget.snapshot().requests).toBe(50);
    clock.set(19_999);
    expect(budget.snapshot().requests).toBe(0);
  });

  it('forgets everything after a gap longer than the window', () => {
    const clock = fakeClock(0);
    const budget = new RetryBudget({}, clock);
    requests(budget, 1_000);
    retriesGranted(budget, 1_000);
    clock.advance(3_600_000);
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 0, allowed: 50 });
  });

  it('never reports a negative allowance when requests leave the window before the retries they paid for', () => {
    const clock = fakeClock(0);
    const budget = new RetryBudget({ minRetriesPerSecond: 0 }, clock);
    requests(budget, 50); // second 0
    clock.set(5_000);
    expect(retriesGranted(budget, 10)).toBe(10); // second 5
    clock.set(10_000); // second 0 leaves; the retries stay
    expect(budget.snapshot()).toEqual({ requests: 0, retries: 10, allowed: 0 });
    expect(budget.tryRetry()).toBe(false);
  });

  it('keeps retries within ratio * requests + floor in every window under steady overload', () => {
    const clock = fakeClock(0);
    const budget = new RetryBudget({}, clock);
    let granted = 0;
    for (let ms = 0; ms < 60_000; ms += 10) {
      clock.set(ms);
      budget.recordRequest(); // 100 requests a second, every one failing and wanting a retry
      if (budget.tryRetry()) granted++;
      const s = budget.snapshot();
      expect(s.retries).toBeLessThanOrEqual(Math.floor(0.2 * s.requests + 50));
      expect(s.allowed).toBeGreaterThanOrEqual(0);
    }
    // 6,000 requests: a 20% budget plus the floor, per window, is far below one retry each.
    expect(granted).toBeGreaterThan(1_200);
    expect(granted).toBeLessThan(1_200 + 6 * 50 + 50);
  });

  it('survives a clock that steps back, counting into the newest bucket', () => {
    const clock = fakeClock(20_000);
    const budget = new RetryBudget({ minRetriesPerSecond: 0 }, clock);
    requests(budget, 10);
    clock.set(15_000);
    requests(budget, 10);
    expect(budget.snapshot()).toEqual({ requests: 20, retries: 0, allowed: 4 });
    clock.set(30_000);
    expect(budget.snapshot().requests).toBe(0);
  });

  it.each<[string, Partial<RetryBudgetOptions>]>([
    ['a negative ratio', { ratio: -0.1 }],
    ['a ratio above 1', { ratio: 1.5 }],
    ['a NaN ratio', { ratio: Number.NaN }],
    ['a window below 10 ms', { windowMs: 5 }],
    ['an infinite window', { windowMs: Number.POSITIVE_INFINITY }],
    ['a negative floor', { minRetriesPerSecond: -1 }],
    ['an infinite floor', { minRetriesPerSecond: Number.POSITIVE_INFINITY }],
  ])('throws a RangeError for %s', (_name, options) => {
    expect(() => new RetryBudget(options, fakeClock())).toThrow(RangeError);
  });

  it('accepts a zero ratio (floor only) and a zero floor (ratio only)', () => {
    const floorOnly = new RetryBudget({ ratio: 0 }, fakeClock());
    requests(floorOnly, 1_000);
    expect(floorOnly.snapshot().allowed).toBe(50);
    const none = new RetryBudget({ ratio: 0, minRetriesPerSecond: 0 }, fakeClock());
    requests(none, 1_000);
    expect(none.tryRetry()).toBe(false);
  });
});
