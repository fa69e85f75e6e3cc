import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TrafficWindow, bucketOf, type TrafficSample } from '../../../src/observe/traffic-window.js';

function fakeClock(start = 1_700_000_000_000) {
  const clock = { t: start, now: () => clock.t };
  return clock;
}

const sample = (over: Partial<TrafficSample> = {}): TrafficSample => ({
  routeId: 'orders',
  side: 'modern',
  servedBy: 'modern',
  upstream: 'modern',
  status: 200,
  durationMs: 10,
  fallback: undefined,
  ...over,
});

describe('TrafficWindow', () => {
  it('summarises each side: counts, rates, error and fallback shares', () => {
    const clock = fakeClock();
    const w = new TrafficWindow(clock);
    clock.t += 100_000; // 100 s of uptime: rates divide by it
    for (let i = 0; i < 80; i++) w.record(sample());
    for (let i = 0; i < 10; i++) w.record(sample({ status: 502 }));
    for (let i = 0; i < 10; i++) w.record(sample({ servedBy: 'legacy', fallback: 'timeout' }));
    for (let i = 0; i < 50; i++) w.record(sample({ side: 'legacy', servedBy: 'legacy', status: i < 5 ? 500 : 200 }));
    const s = w.summary('orders');
    expect(s.modern).toMatchObject({ requests: 100, ratePerSecond: 1, errorRate: 0.1, fallbackRate: 0.1 });
    expect(s.legacy).toMatchObject({ requests: 50, ratePerSecond: 0.5, errorRate: 0.1, fallbackRate: 0 });
    expect(s.servedByModern).toBe(90);
  });

  it('reads percentiles to within one 25% bucket', () => {
    const w = new TrafficWindow(fakeClock());
    for (let ms = 1; ms <= 100; ms++) w.record(sample({ durationMs: ms }));
    const { p50Ms, p99Ms } = w.summary('orders').modern;
    expect(p50Ms).toBeGreaterThanOrEqual(50);
    expect(p50Ms).toBeLessThanOrEqual(50 * 1.25);
    expect(p99Ms).toBeGreaterThanOrEqual(99);
    expect(p99Ms).toBeLessThanOrEqual(99 * 1.25);
  });

  it('forgets traffic older than the window, a slice at a time', () => {
    const clock = fakeClock(0);
    const w = new TrafficWindow(clock, { windowMs: 60_000, slices: 6 });
    w.record(sample());
    clock.t = 30_000;
    w.record(sample());
    expect(w.summary('orders').modern.requests).toBe(2);
    clock.t = 60_000; // the first slice (0-10 s) has left the window
    expect(w.summary('orders').modern.requests).toBe(1);
    clock.t = 200_000;
    expect(w.summary('orders').modern.requests).toBe(0);
    expect(w.summary('orders').modern.p99Ms).toBeNull();
  });

  it('reuses a ring slot only after emptying it', () => {
    const clock = fakeClock(0);
    const w = new TrafficWindow(clock, { windowMs: 60_000, slices: 6 });
    for (let i = 0; i < 5; i++) w.record(sample());
    clock.t = 60_000; // same slot as t=0, one lap later
    w.record(sample());
    expect(w.summary('orders').modern.requests).toBe(1);
  });

  it('forgets deleted routes', () => {
    const w = new TrafficWindow(fakeClock());
    w.record(sample());
    w.record(sample({ routeId: 'users' }));
    expect(w.routeIds().sort()).toEqual(['orders', 'users']);
    w.retain((id) => id === 'users');
    expect(w.routeIds()).toEqual(['users']);
    expect(w.summary('orders').modern.requests).toBe(0);
  });
});

describe('bucketOf', () => {
  it('puts every duration in the first bucket whose bound is at or above it', () => {
    const bound = (i: number) => Math.round(0.5 * 1.25 ** i * 100) / 100;
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), (ms) => {
        const i = bucketOf(ms);
        if (i < 63) expect(bound(i)).toBeGreaterThanOrEqual(ms);
        if (i > 0) expect(bound(i - 1)).toBeLessThan(ms);
      }),
      { numRuns: 5_000 },
    );
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(Number.POSITIVE_INFINITY)).toBe(63);
  });
});

describe('modern try latency', () => {
  it('is kept apart from the client-observed figures, per route, and leaves with the window', () => {
    const clock = fakeClock();
    const w = new TrafficWindow(clock);
    for (let i = 0; i < 10; i++) w.record(sample({ durationMs: 400, servedBy: 'legacy', fallback: 'hedge' }));
    for (let i = 0; i < 10; i++) w.recordModernTry('orders', 30);
    const p95 = w.modernTryPercentile('orders', 95)!;
    expect(p95).toBeGreaterThanOrEqual(30);
    expect(p95).toBeLessThanOrEqual(37.5); // a bucket bound within 25% above
    expect(w.summary('orders').modern.p50Ms).toBeGreaterThanOrEqual(400); // the client's view is its own
    expect(w.summary('orders').modern.requests).toBe(10); // tries are not requests
    expect(w.modernTryPercentile('users', 95)).toBeNull();
    clock.t += 300_000;
    expect(w.modernTryPercentile('orders', 95)).toBeNull();
    w.recordModernTry('gone', 5);
    w.retain((id) => id === 'orders');
    expect(w.modernTryPercentile('gone', 50)).toBeNull();
  });
});
