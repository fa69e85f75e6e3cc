import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, chooseBackend, randomBucket, stickyHeader } from '../../src/routing/canary.js';
import { route } from '../helpers/routes.js';

const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

describe('bucketOf', () => {
  it('is stable: the same key always gets the same bucket', () => {
    fc.assert(fc.property(fc.string(), (key) => bucketOf(key) === bucketOf(key)));
  });

  it('stays in [0, 100)', () => {
    fc.assert(fc.property(fc.string(), (key) => bucketOf(key) >= 0 && bucketOf(key) < BUCKETS));
  });

  it.each([1, 5, 10, 25, 50, 75, 90, 99])('sends %i%% of 10,000 sequential keys to modern, within ±2 points', (percent) => {
    const canary = route('/orders', { mode: 'canary', canaryPercent: percent });
    const modern = keys.filter((k) => chooseBackend(canary, () => bucketOf(k)) === 'modern').length;
    expect(Math.abs((modern / keys.length) * 100 - percent)).toBeLessThanOrEqual(2);
  });

  it('spreads 10,000 keys over every bucket', () => {
    expect(new Set(keys.map(bucketOf)).size).toBe(BUCKETS);
  });
});

describe('chooseBackend', () => {
  it('sends unmatched requests to legacy', () => {
    expect(chooseBackend(undefined, () => 0)).toBe('legacy');
  });

  it.each([
    ['legacy', 100, 'legacy'],
    ['modern', 0, 'modern'],
  ] as const)('mode %s ignores the percentage', (mode, canaryPercent, expected) => {
    expect(chooseBackend(route('/x', { mode, canaryPercent }), () => 0)).toBe(expected);
  });

  it.each([
    [0, 0, 'legacy'],
    [0, 1, 'modern'],
    [99, 99, 'legacy'],
    [99, 100, 'modern'],
    [50, 50, 'legacy'],
    [49, 50, 'modern'],
  ] as const)('in canary mode, bucket %i at %i%% goes %s (bucket < percent → modern)', (bucket, percent, expected) => {
    expect(chooseBackend(route('/x', { mode: 'canary', canaryPercent: percent }), () => bucket)).toBe(expected);
  });

  it('is monotone: raising the percentage only moves keys from legacy to modern', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (key, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        const side = (p: number) => chooseBackend(route('/x', { mode: 'canary', canaryPercent: p }), () => bucketOf(key));
        return side(low) === 'legacy' || side(high) === 'modern';
      }),
    );
  });

  it('does not compute a bucket outside canary mode', () => {
    let asked = 0;
    chooseBackend(route('/x', { mode: 'modern' }), () => ++asked);
    expect(asked).toBe(0);
  });
});

describe('randomBucket and stickyHeader', () => {
  it('maps the random source onto [0, 100)', () => {
    expect(randomBucket(() => 0)).toBe(0);
    expect(randomBucket(() => 0.999999)).toBe(99);
    expect(randomBucket(() => 0.5)).toBe(50);
  });

  it('reads the header name of a header sticky key', () => {
    expect(stickyHeader('header:x-user-id')).toBe('x-user-id');
    expect(stickyHeader('cookie')).toBeUndefined();
  });
});
