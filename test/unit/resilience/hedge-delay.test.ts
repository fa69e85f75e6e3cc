import { describe, expect, it } from 'vitest';
import { TrafficWindow } from '../../../src/observe/traffic-window.js';
import { FIXED_HEDGE_DELAYS, HedgeDelays, MIN_HEDGE_DELAY_MS, hedgeDelayMs } from '../../../src/resilience/hedge-delay.js';
import { DEFAULT_RESILIENCE, type Route } from '../../../src/routing/schema.js';
import { route } from '../../helpers/routes.js';
import { fakeClock } from './fake-clock.js';

const hedging = (hedgeAfterMs: number | null, hedgePercentile: number | null = null, id = 'orders'): Route =>
  route('/orders', { id, mode: 'modern', resilience: { ...DEFAULT_RESILIENCE, hedgeAfterMs, hedgePercentile } });

describe('hedgeDelayMs', () => {
  it.each([
    [{ hedgeAfterMs: null, hedgePercentile: null }, 50, null],
    [{ hedgeAfterMs: 200, hedgePercentile: null }, 50, 200], // fixed: observations do not matter
    [{ hedgeAfterMs: 200, hedgePercentile: 95 }, null, 200], // no observations yet: the cap
    [{ hedgeAfterMs: 200, hedgePercentile: 95 }, 80, 80],
    [{ hedgeAfterMs: 200, hedgePercentile: 95 }, 900, 200], // the cap
    [{ hedgeAfterMs: 200, hedgePercentile: 95 }, 1, MIN_HEDGE_DELAY_MS], // the floor
    [{ hedgeAfterMs: 5, hedgePercentile: 95 }, 1, 5], // a cap below the floor wins
  ])('%j with %s ms observed → %s', (settings, observed, expected) => {
    expect(hedgeDelayMs(settings, observed)).toBe(expected);
  });
});

describe('HedgeDelays', () => {
  it('reads a fixed delay straight from the route, and no hedge without hedgeAfterMs', () => {
    const delays = new HedgeDelays(new TrafficWindow(fakeClock()));
    expect(delays.delayMs(hedging(150))).toBe(150);
    expect(delays.delayMs(hedging(null))).toBeNull();
    expect(FIXED_HEDGE_DELAYS.delayMs(hedging(150, 95))).toBe(150);
  });

  it('p95 mode follows a modern whose latency changes, refreshed off the request path', () => {
    const clock = fakeClock();
    const window = new TrafficWindow(clock);
    const delays = new HedgeDelays(window);
    const orders = hedging(300, 95);
    const tries = (ms: number, n = 100) => {
      for (let i = 0; i < n; i++) delays.recordModernTry(orders, ms);
    };
    expect(delays.delayMs(orders)).toBe(300); // nothing observed: the cap
    tries(20, 96);
    tries(250, 4);
    delays.refresh([orders]);
    const fast = delays.delayMs(orders)!;
    expect(fast).toBeGreaterThanOrEqual(20);
    expect(fast).toBeLessThanOrEqual(25); // the bucket holding 20 ms: within 25% above
    // Modern slows down to 120 ms; once the old tries have left the 5-minute window, the delay follows.
    clock.advance(300_000);
    tries(120);
    delays.refresh([orders]);
    const slow = delays.delayMs(orders)!;
    expect(slow).toBeGreaterThanOrEqual(120);
    expect(slow).toBeLessThanOrEqual(150);
    clock.advance(300_000);
    tries(2_000);
    delays.refresh([orders]);
    expect(delays.delayMs(orders)).toBe(300);
    clock.advance(300_000);
    tries(0.2);
    delays.refresh([orders]);
    expect(delays.delayMs(orders)).toBe(MIN_HEDGE_DELAY_MS);
  });

  it('the p95 moves only with the slow tail: 4% slow tries leave it at the fast latency, 6% move it', () => {
    const clock = fakeClock();
    const delays = new HedgeDelays(new TrafficWindow(clock));
    const orders = hedging(1_000, 95);
    for (let i = 0; i < 94; i++) delays.recordModernTry(orders, 40);
    for (let i = 0; i < 6; i++) delays.recordModernTry(orders, 600);
    delays.refresh([orders]);
    expect(delays.delayMs(orders)!).toBeGreaterThanOrEqual(600);
  });

  it('reads the cap until the next refresh when the percentile changed, and applies a lowered cap at once', () => {
    const delays = new HedgeDelays(new TrafficWindow(fakeClock()));
    const p95 = hedging(300, 95);
    for (let i = 0; i < 50; i++) delays.recordModernTry(p95, 40);
    delays.refresh([p95]);
    expect(delays.delayMs(p95)).toBeLessThan(60);
    expect(delays.delayMs(hedging(300, 99))).toBe(300);
    expect(delays.delayMs(hedging(30, 95))).toBe(30);
  });

  it('records try latency only for routes that hedge on a percentile, and forgets routes that stopped', () => {
    const seen: string[] = [];
    const delays = new HedgeDelays({ recordModernTry: (id) => seen.push(id), modernTryPercentile: () => 50 });
    delays.recordModernTry(hedging(200, null, 'fixed'), 10);
    delays.recordModernTry(hedging(null, null, 'off'), 10);
    delays.recordModernTry(hedging(200, 90, 'p90'), 10);
    expect(seen).toEqual(['p90']);
    delays.refresh([hedging(200, 90, 'p90')]);
    expect(delays.delayMs(hedging(200, 90, 'p90'))).toBe(50);
    delays.refresh([]);
    expect(delays.delayMs(hedging(200, 90, 'p90'))).toBe(200); // forgotten: the cap again
  });
});
