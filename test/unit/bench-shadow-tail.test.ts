import { describe, expect, it } from 'vitest';
import { shadowTail } from '../../bench/report.js';

describe("the bench's shadow tail check", () => {
  it('holds shadow mode within the A/A twin’s distance from legacy mode, never tighter than 10%', () => {
    expect(shadowTail(2.18, 2.0, 2.05).status).toBe('met'); // +9%, band 10%
    expect(shadowTail(2.3, 2.0, 2.05).status).toBe('missed'); // +15%, band 10%
    expect(shadowTail(2.3, 2.0, 2.4)).toMatchObject({ status: 'met', note: 'band ±20.0%' });
    expect(shadowTail(2.3, 2.0, 1.6).status).toBe('met'); // a twin faster by 20% is as much noise
  });

  it('never misses for a shadow tail below legacy’s, and says n/a without both', () => {
    expect(shadowTail(1.0, 2.0, 2.0).status).toBe('met');
    expect(shadowTail(undefined, 2.0, 2.0).status).toBe('n/a');
    expect(shadowTail(2.0, 2.0, undefined).status).toBe('met');
  });
});
