import type { Clock } from '../clock.js';
import { requireFinite, withDefaults } from './options.js';

/** How many retries one backend may receive, relative to its original requests. */
export interface RetryBudgetOptions {
  /**
   * Default 0.2: retries may add at most 20% to the requests seen in the window. A retry storm
   * is what turns a struggling backend into a dead one; 20% is Finagle's default. In [0, 1].
   */
  ratio: number;
  /**
   * Default 10_000: the sliding window, kept as 10 buckets (one second each by default). Ten
   * seconds smooths bursts yet forgets a past incident quickly. At least 10 ms.
   */
  windowMs: number;
  /**
   * Default 5: a floor so a quiet backend can still retry: the window always grants
   * `minRetriesPerSecond * windowMs / 1000` retries on top of the ratio (50 with the defaults),
   * as Finagle's reserve does. At least 0.
   */
  minRetriesPerSecond: number;
}

export const DEFAULT_RETRY_BUDGET: Readonly<RetryBudgetOptions> = Object.freeze({
  ratio: 0.2,
  windowMs: 10_000,
  minRetriesPerSecond: 5,
});

/** The window is kept as this many buckets; it slides one bucket at a time. */
const BUCKETS = 10;

/**
 * A per-backend retry budget (as in Finagle and Envoy): within a sliding time window, retries
 * are allowed while `retries < floor(ratio * requests + minRetriesPerSecond * windowMs / 1000)`.
 *
 * The window is 10 buckets of `windowMs / 10`; it slides a bucket at a time, so it covers
 * between 9/10 of `windowMs` and all of it. Every operation is O(1) and allocation-free, driven
 * by the clock it is given (no timers). A clock that steps back counts into the newest bucket.
 */
export class RetryBudget {
  /** The options in force: the caller's merged over {@link DEFAULT_RETRY_BUDGET}. */
  readonly options: Readonly<RetryBudgetOptions>;

  private readonly clock: Clock;
  private readonly bucketMs: number;
  /** Retries always granted per window, whatever the traffic. */
  private readonly reserve: number;
  private readonly requestsIn = new Float64Array(BUCKETS);
  private readonly retriesIn = new Float64Array(BUCKETS);
  private requests = 0;
  private retries = 0;
  private grantedTotal = 0;
  private refusedTotal = 0;
  /** The number of the newest bucket: floor(now / bucketMs). */
  private epoch: number;

  /** @param options merged over {@link DEFAULT_RETRY_BUDGET}; a value out of range throws a RangeError. */
  constructor(options: Partial<RetryBudgetOptions>, clock: Clock) {
    const o = withDefaults<RetryBudgetOptions>(DEFAULT_RETRY_BUDGET, options);
    requireFinite('ratio', o.ratio, 0, 1);
    requireFinite('windowMs', o.windowMs, 10, Number.MAX_SAFE_INTEGER);
    requireFinite('minRetriesPerSecond', o.minRetriesPerSecond, 0, Number.MAX_SAFE_INTEGER);
    this.options = o;
    this.clock = clock;
    this.bucketMs = o.windowMs / BUCKETS;
    this.reserve = (o.minRetriesPerSecond * o.windowMs) / 1000;
    this.epoch = Math.floor(clock.now() / this.bucketMs);
  }

  /** Counts one original (non-retry) request to the backend. */
  recordRequest(): void {
    const slot = this.slide();
    this.requestsIn[slot]!++;
    this.requests++;
  }

  /** true and counts the retry if the budget allows one now; false otherwise (nothing recorded). */
  tryRetry(): boolean {
    const slot = this.slide();
    if (this.retries >= this.cap()) {
      this.refusedTotal++;
      return false;
    }
    this.retriesIn[slot]!++;
    this.retries++;
    this.grantedTotal++;
    return true;
  }

  /** Retries granted and refused since start, for metrics. */
  totals(): { granted: number; refused: number } {
    return { granted: this.grantedTotal, refused: this.refusedTotal };
  }

  /** Counts in the window now; `allowed` is how many more retries the budget grants (never negative). */
  snapshot(): { requests: number; retries: number; allowed: number } {
    this.slide();
    return { requests: this.requests, retries: this.retries, allowed: Math.max(0, this.cap() - this.retries) };
  }

  private cap(): number {
    return Math.floor(this.options.ratio * this.requests + this.reserve);
  }

  /** Empties the buckets that fell out of the window; returns the slot of the newest bucket. */
  private slide(): number {
    const epoch = Math.floor(this.clock.now() / this.bucketMs);
    if (epoch > this.epoch) {
      const expired = Math.min(epoch - this.epoch, BUCKETS);
      for (let i = 1; i <= expired; i++) {
        const slot = slotOf(this.epoch + i);
        this.requests -= this.requestsIn[slot]!;
        this.retries -= this.retriesIn[slot]!;
        this.requestsIn[slot] = 0;
        this.retriesIn[slot] = 0;
      }
      this.epoch = epoch;
    }
    return slotOf(this.epoch);
  }
}

/** The ring slot of a bucket number (also for a clock before 1970, where `%` goes negative). */
function slotOf(epoch: number): number {
  return ((epoch % BUCKETS) + BUCKETS) % BUCKETS;
}
