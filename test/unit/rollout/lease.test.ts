import { describe, expect, it } from 'vitest';
import { IDLE_POLL_MS, checkDue, leaseMs, pollMs, publishDue, shouldClaim } from '../../../src/rollout/lease.js';
import { RolloutPlan } from '../../../src/rollout/plan.js';

const plan = (checkMs: number) => RolloutPlan.parse({ checkMs });

describe('when a gateway does what for a shared rollout', () => {
  it('looks every quarter of the shortest check, between 5 ms and a second, and every second with nothing running', () => {
    expect(pollMs([])).toBe(IDLE_POLL_MS);
    expect(pollMs([plan(10_000)])).toBe(1_000);
    expect(pollMs([plan(10_000), plan(400)])).toBe(100);
    expect(pollMs([plan(8)])).toBe(5);
  });

  it('holds a lease for one check, renewed at every look: a dead leader is replaced within 1.25 checks of its last renewal', () => {
    const p = plan(200);
    expect(leaseMs(p)).toBe(200);
    expect(leaseMs(p) + pollMs([p])).toBeLessThanOrEqual(2 * p.checkMs);
  });

  it('claims when it holds the lease or the lease has expired, never while another holds it', () => {
    const t = 1_000_000;
    expect(shouldClaim({ leader: 'a', leaseUntil: t + 50 }, 'a', t)).toBe(true);
    expect(shouldClaim({ leader: 'a', leaseUntil: t + 50 }, 'b', t)).toBe(false);
    expect(shouldClaim({ leader: 'a', leaseUntil: t }, 'b', t)).toBe(true);
    expect(shouldClaim({ leader: null, leaseUntil: 0 }, 'b', t)).toBe(true);
  });

  it('publishes twice per check and at least every second; the leader checks once per check, at once after taking over', () => {
    const t = 1_000_000;
    expect(publishDue(plan(100), undefined, t)).toBe(true);
    expect(publishDue(plan(100), t - 49, t)).toBe(false);
    expect(publishDue(plan(100), t - 50, t)).toBe(true);
    expect(publishDue(plan(60_000), t - 999, t)).toBe(false);
    expect(publishDue(plan(60_000), t - 1_000, t)).toBe(true);
    expect(checkDue(plan(100), undefined, t)).toBe(true);
    expect(checkDue(plan(100), t - 99, t)).toBe(false);
    expect(checkDue(plan(100), t - 100, t)).toBe(true);
  });
});
