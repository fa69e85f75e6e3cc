import { describe, expect, it } from 'vitest';
import { higherByChance, shadowTail } from '../../bench/report.js';

describe("the bench's shadow tail check", () => {
  it('gives the exact one-sided Mann–Whitney p of the first rounds ranking above the others', () => {
    expect(higherByChance([9, 8, 7], [1, 2, 3, 4, 5, 6])).toBeCloseTo(1 / 84); // the one arrangement of C(9,3)
    expect(higherByChance([9, 8, 5], [1, 2, 3, 4, 6, 7])).toBeCloseTo(4 / 84); // U = 16: four arrangements rank as high or higher
    expect(higherByChance([1, 2, 3], [4, 5, 6, 7, 8, 9])).toBe(1);
    expect(higherByChance([2], [1, 3])).toBeCloseTo(2 / 3);
    expect(higherByChance([5, 5], [5, 5])).toBe(1); // ties count half
  });

  it("misses only when shadow mode's rounds rank above legacy mode's beyond chance", () => {
    // Rounds (ms) of two A/Bs on this machine: all three of shadow's above all six of legacy mode's, and not.
    expect(shadowTail([3.106, 2.419, 2.113], [2.027, 1.369, 1.179], [1.922, 1.767, 1.489])).toMatchObject({ status: 'missed', note: 'p = 0.012' });
    expect(shadowTail([2.787, 1.936, 1.72], [2.126, 1.492, 1.813], [2.273, 1.783, 1.587])).toMatchObject({ status: 'met' });
    expect(shadowTail([2.2, 2.1, 2.0], [2.0, 2.1, 2.2], [2.0, 2.1, 2.2]).status).toBe('met');
  });

  it('shows the medians, and says n/a without rounds; one round each can never miss', () => {
    expect(shadowTail([2.2], [2.0], [1.9])).toMatchObject({ status: 'met', measured: '2.200 ms vs 2.000 ms and twin 1.900 ms (medians; 1.128× legacy mode\'s)' });
    expect(shadowTail([], [2.0], [2.0]).status).toBe('n/a');
  });
});
