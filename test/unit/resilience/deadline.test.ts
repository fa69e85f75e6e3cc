import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEADLINE_HEADER, Deadline } from '../../../src/resilience/deadline.js';
import { fakeClock } from './fake-clock.js';

describe('Deadline', () => {
  it('names its header in lower case, as Node gives header names', () => {
    expect(DEADLINE_HEADER).toBe('x-strangler-deadline-ms');
  });

  it('counts down with the clock, never below zero', () => {
    const clock = fakeClock();
    const deadline = new Deadline(1_000, clock);
    expect(deadline.expiresAt).toBe(clock.now() + 1_000);
    expect(deadline.remainingMs()).toBe(1_000);
    clock.advance(400);
    expect(deadline.remainingMs()).toBe(600);
    clock.advance(599);
    expect(deadline.remainingMs()).toBe(1);
    expect(deadline.expired()).toBe(false);
    clock.advance(1);
    expect(deadline.remainingMs()).toBe(0);
    expect(deadline.expired()).toBe(true);
    clock.advance(5_000);
    expect(deadline.remainingMs()).toBe(0);
    expect(deadline.expired()).toBe(true);
  });

  it('is expired at once with a zero budget', () => {
    expect(new Deadline(0, fakeClock()).expired()).toBe(true);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('throws a RangeError for a budget of %s', (budget) => {
    expect(() => new Deadline(budget, fakeClock())).toThrow(RangeError);
  });

  describe('fromHeader', () => {
    it.each<[string | undefined, number]>([
      [undefined, 5_000],
      ['2500', 2_500], // shorter: honoured
      ['0', 0],
      ['4999', 4_999],
      ['5000', 5_000], // not shorter
      ['60000', 5_000], // longer: the gateway's default stands
      ['9999999999', 5_000], // 10 digits
      ['0000001000', 1_000],
    ])('%j with a 5 s default → %i ms', (value, expected) => {
      const clock = fakeClock();
      expect(Deadline.fromHeader(value, 5_000, clock).remainingMs()).toBe(expected);
    });

    it.each(['', ' ', '-1', '1.5', '1e3', '+100', '0x10', '100ms', ' 100', '100 ', '12345678901', 'NaN', 'Infinity', '١٠٠'])(
      'ignores the garbage %j',
      (value) => {
        expect(Deadline.fromHeader(value, 5_000, fakeClock()).remainingMs()).toBe(5_000);
      },
    );

    it('counts down from the moment it is read', () => {
      const clock = fakeClock();
      const deadline = Deadline.fromHeader('300', 5_000, clock);
      clock.advance(100);
      expect(deadline.remainingMs()).toBe(200);
    });

    it('never gives more time than the default', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.stringMatching(/^\d{1,12}$/)), fc.integer({ min: 0, max: 600_000 }), (value, defaultMs) => {
          return Deadline.fromHeader(value, defaultMs, fakeClock()).remainingMs() <= defaultMs;
        }),
      );
    });

    it('throws a RangeError for a bad default', () => {
      expect(() => Deadline.fromHeader(undefined, -1, fakeClock())).toThrow(RangeError);
    });
  });
});
