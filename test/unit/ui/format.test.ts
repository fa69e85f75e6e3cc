import { describe, expect, it } from 'vitest';
import { count, ms, percent, rate, time, value } from '../../../ui/src/format.js';

describe('dashboard number formats', () => {
  it.each([
    [0, '0.0/s'],
    [12.345, '12.3/s'],
    [999.94, '999.9/s'],
    [1234, '1.2k/s'],
  ])('rate(%s) is %s', (n, text) => expect(rate(n)).toBe(text));

  it.each([
    [0, '0.0%'],
    [0.125, '12.5%'],
    [1, '100.0%'],
    [null, '–'],
    [Number.NaN, '–'],
  ])('percent(%s) is %s', (n, text) => expect(percent(n)).toBe(text));

  it.each([
    [0.8, '0.8 ms'],
    [99.94, '99.9 ms'],
    [1234.4, '1234 ms'],
    [12_500, '12.5 s'],
    [null, '–'],
  ])('ms(%s) is %s', (n, text) => expect(ms(n)).toBe(text));

  it('keeps a width per magnitude, so refreshed cells do not shift', () => {
    expect(new Set([0.01, 0.05, 0.09].map(percent).map((s) => s.length))).toEqual(new Set([4]));
    expect(new Set([1.2, 5.5, 9.9].map(ms).map((s) => s.length))).toEqual(new Set([6]));
  });

  it('formats counts, times and values', () => {
    expect(count(1234567)).toBe('1,234,567');
    expect(time('2026-12-01T12:03:00.000Z')).toBe('2026-12-01 12:03:00');
    expect(time(null)).toBe('–');
    expect(value('10')).toBe('10');
    expect(value({ a: 1 })).toBe('{"a":1}');
    expect(value('x'.repeat(100), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});
