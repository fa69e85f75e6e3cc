import type { Random } from '../clock.js';

/**
 * Default backoff between retries.
 *
 * - `baseMs: 25`: the failures worth retrying (a reset connection, a 503 from an instance that
 *   is restarting, a connect refused while a pod is replaced) usually clear within tens of
 *   milliseconds, and a user is waiting: the first retry should come fast.
 * - `capMs: 1_000`: past a second of waiting, falling back to legacy (or failing fast) serves
 *   the user better than another retry; the request's deadline bounds the total anyway.
 *
 * With full jitter the delays for attempts 0, 1, 2, 3 are drawn from [0, 25), [0, 50), [0, 100),
 * [0, 200) ms, reaching the cap from attempt 6.
 */
export const DEFAULT_BACKOFF: Readonly<{ baseMs: number; capMs: number }> = Object.freeze({ baseMs: 25, capMs: 1_000 });

/**
 * The delay before retry number `attempt` (0 = the first retry), with "full jitter":
 * `random() * min(capMs, baseMs * 2 ** attempt)`, a value in [0, that bound). Drawing the whole
 * delay at random spreads a herd of clients, so a recovering backend is not hit in waves.
 *
 * Throws a RangeError for a negative or fractional `attempt`, or a negative or non-finite
 * `baseMs`/`capMs`.
 */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: Random): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  if (!Number.isFinite(baseMs) || baseMs < 0) throw new RangeError(`baseMs must be a finite number >= 0, got ${baseMs}`);
  if (!Number.isFinite(capMs) || capMs < 0) throw new RangeError(`capMs must be a finite number >= 0, got ${capMs}`);
  // 2 ** attempt overflows to Infinity for large attempts; min() then picks the cap. A zero base
  // is tested first because 0 * Infinity is NaN.
  const bound = baseMs === 0 ? 0 : Math.min(capMs, baseMs * 2 ** attempt);
  return random() * bound;
}
