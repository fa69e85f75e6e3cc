import { describe, expect, it } from 'vitest';
import { NoiseLearner } from '../../../src/shadow/noise.js';
import { shadowReport } from '../../../src/shadow/report.js';
import { KEPT_SAMPLES, emptyCounts, mergeCounts, record, recordSkip, samplePath, type ShadowSample } from '../../../src/shadow/tally.js';

const at = '2026-12-01T12:00:00.000Z';
const sample = (n: number): ShadowSample => ({
  at,
  method: 'GET',
  path: `/o/${n}`,
  legacyStatus: 200,
  modernStatus: 200,
  differences: Array.from({ length: 30 }, (_, i) => ({ path: `$.items[${i}].price`, legacy: '1', modern: '2' })),
});

describe('shadow tally and report', () => {
  it('counts results, skips, latency and the paths that differ, generalised', () => {
    const counts = emptyCounts();
    record(counts, { result: 'match', at, legacyMs: 4, modernMs: 5 });
    record(counts, { result: 'mismatch', at, legacyMs: 4, modernMs: 5, sample: sample(1) });
    record(counts, { result: 'error', at, legacyMs: 4 });
    recordSkip(counts, 'bulkheadFull');
    const report = shadowReport('orders', 'shadow', counts);
    expect(report).toMatchObject({ since: at, compared: 3, matched: 1, mismatched: 1, errors: 1, matchRate: 0.5 });
    expect(report.skipped).toEqual({ total: 1, byReason: { bulkheadFull: 1, bodyTooLarge: 0, notSampled: 0, method: 0 } });
    expect(report.topPaths).toEqual([{ path: '$.items[*].price', count: 1 }]);
    expect(report.latency.legacy.p50).toBeGreaterThanOrEqual(4);
    expect(report.latency.modern.p99).toBeGreaterThanOrEqual(5);
    expect(report.samples[0]!.differences).toHaveLength(20);
  });

  it('an empty tally reports nulls', () => {
    expect(shadowReport('x', 'legacy', emptyCounts())).toMatchObject({ since: null, matchRate: null, latency: { modern: { p50: null, p99: null } } });
  });

  it('merges deltas: counts add, samples newest first and trimmed, noise united', () => {
    const a = emptyCounts();
    const b = emptyCounts();
    for (let i = 0; i < KEPT_SAMPLES; i++) record(a, { result: 'mismatch', at, legacyMs: 1, modernMs: 1, sample: sample(i) });
    record(b, { result: 'mismatch', at, legacyMs: 1, modernMs: 1, sample: sample(999) });
    a.noise = ['$.x'];
    b.noise = ['$.x', '$.y'];
    const merged = mergeCounts(a, b);
    expect(merged.mismatched).toBe(KEPT_SAMPLES + 1);
    expect(merged.samples).toHaveLength(KEPT_SAMPLES);
    expect(merged.samples[0]!.path).toBe('/o/999');
    expect(merged.noise).toEqual(['$.x', '$.y']);
    expect(merged.paths['$.items[*].price']).toBe(KEPT_SAMPLES + 1);
  });

  it('shows paths without the query values', () => {
    expect(samplePath('/orders/7?page=2&token=abc&flag')).toBe('/orders/7?page=&token=&flag=');
    expect(samplePath('/orders/7')).toBe('/orders/7');
  });

  it('learns noise from two legacy answers, generalised, never the status', () => {
    const noise = new NoiseLearner();
    noise.learn([{ path: '$.items[3].at', legacy: '1', modern: '2' }, { path: 'status', legacy: '200', modern: '500' }]);
    expect(noise.list()).toEqual(['$.items[*].at']);
    expect(noise.isNoise({ path: '$.items[0].at', legacy: '', modern: '' })).toBe(true);
    expect(noise.isNoise({ path: '$.items[0].price', legacy: '', modern: '' })).toBe(false);
  });
});
