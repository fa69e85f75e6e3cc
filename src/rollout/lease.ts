import type { RolloutPlan } from './plan.js';
import type { RolloutRecord } from './rollout-store.js';

/**
 * When each gateway does what for a rollout shared through the store, pure. Every gateway looks
 * at the running rollouts every `pollMs`: it publishes its counts for the current step, and the
 * one holding the lease renews it and runs the checks. A lease lasts one `checkMs` and is renewed
 * at every look, a quarter of that, so a live leader never loses it to a late tick, and a dead
 * one is replaced at most `checkMs` + one look (1.25 × checkMs) after its last renewal.
 */

const MIN_POLL_MS = 5;
/** With nothing running, a look a second still finds a rollout another gateway started. */
export const IDLE_POLL_MS = 1_000;

export function pollMs(plans: readonly RolloutPlan[]): number {
  if (plans.length === 0) return IDLE_POLL_MS;
  const shortest = Math.min(...plans.map((p) => p.checkMs));
  return Math.max(MIN_POLL_MS, Math.min(IDLE_POLL_MS, Math.floor(shortest / 4)));
}

export function leaseMs(plan: RolloutPlan): number {
  return plan.checkMs;
}

/** A gateway publishes at least every `checkMs` and every second: twice per check, so the leader's merge is never a whole check old. */
export function publishDue(plan: RolloutPlan, lastAt: number | undefined, now: number): boolean {
  return lastAt === undefined || now - lastAt >= Math.min(plan.checkMs / 2, 1_000);
}

/** Whether this gateway should try to take or renew the lease: it holds it, or it has expired. */
export function shouldClaim(record: Pick<RolloutRecord, 'leader' | 'leaseUntil'>, me: string, now: number): boolean {
  return record.leader === me || record.leaseUntil <= now;
}

/** The leader checks once per `checkMs`; the first look after taking the lease checks at once. */
export function checkDue(plan: RolloutPlan, lastAt: number | undefined, now: number): boolean {
  return lastAt === undefined || now - lastAt >= plan.checkMs;
}
