import { describe, expect, it } from 'vitest';
import { changedFields } from '../../../ui/src/history-diff.js';
import { cursorBefore, matches, pageQuery, runs, type IndexEntry } from '../../../ui/src/paging.js';
import { addSample, chartPoints } from '../../../ui/src/share-history.js';
import { route } from '../../helpers/routes.js';

describe('history diff', () => {
  it('lists the settings a version changed as dotted paths, without bookkeeping', () => {
    const before = route('/orders');
    const after = {
      ...before,
      version: 2,
      updatedAt: 'later',
      mode: 'canary',
      canaryPercent: 20,
      resilience: { ...before.resilience, breaker: { ...before.resilience.breaker, openMs: 5_000 } },
    };
    expect(changedFields(before, after)).toEqual([
      { field: 'canaryPercent', before: 0, after: 20 },
      { field: 'mode', before: 'legacy', after: 'canary' },
      { field: 'resilience.breaker.openMs', before: before.resilience.breaker.openMs, after: 5_000 },
    ]);
  });

  it('compares arrays whole and reports added fields', () => {
    expect(changedFields({ a: [1, 2] }, { a: [1, 2, 3], b: true })).toEqual([
      { field: 'a', before: [1, 2], after: [1, 2, 3] },
      { field: 'b', before: undefined, after: true },
    ]);
    expect(changedFields({ a: 1 }, { a: 1 })).toEqual([]);
  });
});

describe('overview paging', () => {
  const entries: IndexEntry[] = ['/a', '/b', '/c', '/d', '/e'].map((p) => ({ id: p.slice(1), pathPrefix: p, mode: 'legacy', stage: 'legacy' }));

  it('searches id and prefix, case-insensitively', () => {
    expect(entries.filter((e) => matches(e, ' C ')).map((e) => e.id)).toEqual(['c']);
    expect(entries.filter((e) => matches(e, '')).length).toBe(5);
    expect(matches({ id: 'orders', pathPrefix: '/Shop/Orders', mode: 'legacy', stage: 'legacy' }, '/shop')).toBe(true);
  });

  it('cuts positions into runs of consecutive rows, each read after the row before it', () => {
    expect(runs([0, 1, 2, 4, 6, 7])).toEqual([
      { start: 0, length: 3 },
      { start: 4, length: 1 },
      { start: 6, length: 2 },
    ]);
    expect(runs([])).toEqual([]);
    expect(cursorBefore(entries, 0)).toBeUndefined();
    expect(cursorBefore(entries, 3)).toBe('/c');
    expect(pageQuery('status', 2, '/a b')).toBe('status?limit=2&after=%2Fa%20b');
    expect(pageQuery('status', 25, undefined)).toBe('status?limit=25');
  });
});

describe("modern's share over time", () => {
  it('keeps the samples of the window, oldest dropped', () => {
    let samples = addSample([], { at: 1_000, share: 0 }, 10_000);
    samples = addSample(samples, { at: 6_000, share: 0.5 }, 10_000);
    samples = addSample(samples, { at: 12_000, share: 1 }, 10_000);
    expect(samples.map((s) => s.at)).toEqual([6_000, 12_000]);
  });

  it('draws time left to right and share bottom to top, clamped to the box', () => {
    const samples = [
      { at: 0, share: 0 },
      { at: 60_000, share: 0.5 },
      { at: 120_000, share: 1.5 },
    ];
    expect(chartPoints(samples, 120_000, 100, 50, 600_000)).toBe('0,50 50,25 100,0');
  });

  it('spans at least a minute and at most the window', () => {
    const young = [
      { at: 90_000, share: 0 },
      { at: 120_000, share: 1 },
    ];
    expect(chartPoints(young, 120_000, 100, 50, 600_000)).toBe('50,50 100,0');
    const old = [
      { at: 0, share: 0 },
      { at: 300_000, share: 1 },
    ];
    expect(chartPoints(old, 300_000, 100, 50, 150_000)).toBe('0,50 100,0');
  });
});
