import type { Random } from '../clock.js';
import { fullJitterDelay } from '../resilience/backoff.js';

/**
 * How the relay retries a webhook. A receiver may be down for hours (a chat service's outage, a
 * mistyped URL fixed next morning): deliveries never give up, they keep trying at the cap.
 */
export interface RelayPolicy {
  /** First retry within 1 s: most failures are a restart or a blip. */
  baseMs: number;
  /** Then doubling, with full jitter, up to one try per 5 minutes per delivery. */
  capMs: number;
  /** A receiver that has not answered in 5 s has failed this attempt (Slack answers in well under 1 s). */
  timeoutMs: number;
  /**
   * A claim holds a delivery this long, so other gateways on the database leave it alone while it
   * is posted: twice `timeoutMs`, so a post that times out is settled well within it, and a
   * gateway killed mid-post delays that delivery by at most this much.
   */
  leaseMs: number;
  /** The safety net under store.onChange: a change another process made on SQLite is seen within 1 s. */
  pollMs: number;
  /** Deliveries claimed (and posted at once) per pass. */
  batch: number;
}

export const DEFAULT_RELAY_POLICY: Readonly<RelayPolicy> = Object.freeze({
  baseMs: 1_000,
  capMs: 5 * 60_000,
  timeoutMs: 5_000,
  leaseMs: 10_000,
  pollMs: 1_000,
  batch: 16,
});

/** What one post came to: a 2xx answer, or anything else (another status, a network error, the timeout). */
export type PostResult = { ok: true } | { ok: false; error: string };

export type Settlement =
  | { delivered: true; attempts: number; at: number }
  | { delivered: false; attempts: number; error: string; nextAttemptAt: number };

/**
 * The state a delivery moves to after its attempt number `attempts + 1`: delivered, or due again
 * after a full-jitter backoff of the attempts so far (attempt 1 failed: within `baseMs`; then
 * doubling up to `capMs`).
 */
export function settle(result: PostResult, attempts: number, now: number, policy: RelayPolicy, random: Random): Settlement {
  const made = attempts + 1;
  if (result.ok) return { delivered: true, attempts: made, at: now };
  // Whole milliseconds: the column is an integer (PostgreSQL's BIGINT refuses a fraction).
  const delay = Math.ceil(fullJitterDelay(attempts, policy.baseMs, policy.capMs, random));
  return { delivered: false, attempts: made, error: result.error, nextAttemptAt: now + delay };
}

/** A receiver's answer as a result: only a 2xx is delivered. */
export function resultOfStatus(status: number): PostResult {
  return status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `HTTP ${status}` };
}
