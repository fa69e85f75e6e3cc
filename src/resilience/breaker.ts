import type { Clock } from '../clock.js';
import { requireFinite, requireInteger, withDefaults } from './options.js';

/**
 * closed: calls pass and their outcomes fill a sliding window.
 * open: calls fail fast (for this gateway, they go to legacy) until a cool-down has passed.
 * half-open: a few probe calls test whether the backend is back.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /**
   * Default 50: open when failures / calls in the window reach this percentage. Half the calls
   * failing is an outage, not a blip; retries already absorb the occasional failure.
   */
  failureRatePercent: number;
  /**
   * Default 20: the window is the last N calls (count-based), so a busy route decides on fresh
   * calls and a quiet one still gathers enough evidence. Integer in [1, 10_000].
   */
  windowSize: number;
  /**
   * Default 10: never open with fewer calls than this in the window, so two failures out of two
   * do not trip the breaker. Integer in [1, windowSize].
   */
  minimumCalls: number;
  /**
   * Default 30_000: the cool-down before half-open. Long enough for a restarting service to come
   * back, short enough that a recovered route returns to modern within a minute. Keep it above the
   * upstream timeout (see {@link CircuitBreaker}).
   */
  openMs: number;
  /**
   * Default 3: probe calls allowed in half-open; all must succeed to close. One lucky probe is
   * weak evidence; three is cheap and still fast. Integer >= 1.
   */
  halfOpenProbes: number;
  /**
   * Default null (off): a successful call slower than this (strictly) counts as a failure. Off by
   * default because "slow" depends on the route; turn it on per route once its p99 is known.
   */
  slowCallMs: number | null;
}

export const DEFAULT_BREAKER_OPTIONS: Readonly<BreakerOptions> = Object.freeze({
  failureRatePercent: 50,
  windowSize: 20,
  minimumCalls: 10,
  openMs: 30_000,
  halfOpenProbes: 3,
  slowCallMs: null,
});

/** Largest window: beyond this a count window reacts too slowly to protect anything. */
const MAX_WINDOW_SIZE = 10_000;

export interface BreakerSnapshot {
  state: BreakerState;
  /** failuresInWindow / callsInWindow as a percentage; 0 for an empty window. */
  failureRatePercent: number;
  callsInWindow: number;
  failuresInWindow: number;
  /** Epoch ms (from the clock) of the last state change, or of construction. */
  lastTransitionAt: number;
  /** Epoch ms when the breaker turns half-open; only while open, else null. */
  nextProbeAt: number | null;
}

export type BreakerStateListener = (from: BreakerState, to: BreakerState, snapshot: BreakerSnapshot) => void;

const SUCCESS = 0;
const FAILURE = 1;

/**
 * A count-based circuit breaker for one route's modern backend: a pure state machine driven by
 * the clock it is given (no timers). Time-based transitions (open → half-open) happen lazily,
 * whenever `tryAcquire`, `state` or `snapshot` is read.
 *
 * Contract with the caller: every call that `tryAcquire()` admits ends in exactly one of
 * `onSuccess`, `onFailure` or `release`. The breaker hands out no per-call token, so it tells a
 * probe's outcome from a late one by state and duration: outcomes reported while open are
 * ignored, and in half-open an outcome counts only while a probe is outstanding and only if its
 * `durationMs` fits inside the half-open period (a call that started before the breaker opened
 * reports a duration at least `openMs` longer). A late `release()` cannot be told apart, so keep
 * the upstream timeout below `openMs`.
 *
 * The window is a ring buffer of the last `windowSize` outcomes: O(1) and allocation-free per
 * call. It covers the closed state only; it stays readable while open and half-open (it shows
 * what tripped the breaker) and is emptied whenever the breaker leaves half-open or is reset.
 */
export class CircuitBreaker {
  /** The options in force: the caller's merged over {@link DEFAULT_BREAKER_OPTIONS}. */
  readonly options: Readonly<BreakerOptions>;

  private readonly clock: Clock;
  private readonly onStateChange: BreakerStateListener | undefined;

  private readonly outcomes: Uint8Array;
  private next = 0;
  private calls = 0;
  private failures = 0;

  private current: BreakerState = 'closed';
  private lastTransitionAt: number;
  private openedAt = 0;
  private halfOpenAt = 0;
  /** Half-open probe slots taken: admitted minus released. Successful probes keep their slot. */
  private probesAdmitted = 0;
  private probeSuccesses = 0;

  /**
   * @param options merged over {@link DEFAULT_BREAKER_OPTIONS}; a value out of range throws a RangeError.
   * @param onStateChange called once per transition, after the breaker is in its new state.
   */
  constructor(options: Partial<BreakerOptions>, clock: Clock, onStateChange?: BreakerStateListener) {
    const o = withDefaults<BreakerOptions>(DEFAULT_BREAKER_OPTIONS, options);
    requireFinite('failureRatePercent', o.failureRatePercent, 0, 100, true);
    requireInteger('windowSize', o.windowSize, 1, MAX_WINDOW_SIZE);
    requireInteger('minimumCalls', o.minimumCalls, 1, o.windowSize);
    requireFinite('openMs', o.openMs, 0, Number.MAX_SAFE_INTEGER);
    requireInteger('halfOpenProbes', o.halfOpenProbes, 1);
    if (o.slowCallMs !== null) requireFinite('slowCallMs', o.slowCallMs, 0, Number.MAX_SAFE_INTEGER, true);
    this.options = o;
    this.clock = clock;
    this.onStateChange = onStateChange;
    this.outcomes = new Uint8Array(o.windowSize);
    this.lastTransitionAt = clock.now();
  }

  /** The current state; reading it applies an elapsed cool-down (open → half-open). */
  get state(): BreakerState {
    this.applyCoolDown();
    return this.current;
  }

  /**
   * Asks to send one call now. false = do not call (open, or half-open with all probe slots
   * taken). Moves open → half-open once the cool-down has passed.
   */
  tryAcquire(): boolean {
    this.applyCoolDown();
    switch (this.current) {
      case 'closed':
        return true;
      case 'open':
        return false;
      case 'half-open':
        if (this.probesAdmitted >= this.options.halfOpenProbes) return false;
        this.probesAdmitted++;
        return true;
    }
  }

  /**
   * Reports a successful call that tryAcquire() allowed. With `slowCallMs` set, a call slower
   * than that counts as a failure.
   */
  onSuccess(durationMs: number): void {
    const slow = this.options.slowCallMs;
    this.record(slow !== null && durationMs > slow ? FAILURE : SUCCESS, durationMs);
  }

  /** Reports a failed call that tryAcquire() allowed. */
  onFailure(durationMs: number): void {
    this.record(FAILURE, durationMs);
  }

  /**
   * The call ended without a countable outcome (e.g. the client aborted): frees a half-open
   * probe slot, records nothing.
   */
  release(): void {
    if (this.current === 'half-open' && this.probesAdmitted > this.probeSuccesses) this.probesAdmitted--;
  }

  /** Back to closed with an empty window (an operator's override). Fires onStateChange unless already closed. */
  reset(): void {
    this.clearWindow();
    if (this.current !== 'closed') this.transition('closed');
  }

  snapshot(): BreakerSnapshot {
    this.applyCoolDown();
    return this.snapshotNow();
  }

  private record(outcome: number, durationMs: number): void {
    switch (this.current) {
      case 'closed':
        this.push(outcome);
        if (this.shouldTrip()) this.transition('open');
        return;
      case 'open':
        return; // a late result of a call admitted before the breaker opened
      case 'half-open':
        if (!this.isProbeOutcome(durationMs)) return;
        if (outcome === FAILURE) {
          this.transition('open');
        } else if (++this.probeSuccesses >= this.options.halfOpenProbes) {
          this.transition('closed');
        }
        return;
    }
  }

  /**
   * In half-open, an outcome belongs to a probe only while one is outstanding, and only if the
   * call could have started after the breaker turned half-open. A call admitted before the
   * breaker opened has run at least `openMs` longer than the half-open period; half of `openMs`
   * is the margin that tolerates durations and the clock being measured slightly differently.
   */
  private isProbeOutcome(durationMs: number): boolean {
    if (this.probesAdmitted <= this.probeSuccesses) return false;
    const openMs = this.options.openMs;
    return openMs === 0 || !(durationMs > this.clock.now() - this.halfOpenAt + openMs / 2);
  }

  private push(outcome: number): void {
    if (this.calls === this.outcomes.length) {
      this.failures -= this.outcomes[this.next] ?? 0; // evict the oldest
    } else {
      this.calls++;
    }
    this.outcomes[this.next] = outcome;
    this.failures += outcome;
    this.next = this.next + 1 === this.outcomes.length ? 0 : this.next + 1;
  }

  private shouldTrip(): boolean {
    // Multiplied out rather than divided, so "exactly the threshold" is exact.
    return this.calls >= this.options.minimumCalls && this.failures * 100 >= this.options.failureRatePercent * this.calls;
  }

  private clearWindow(): void {
    this.next = 0;
    this.calls = 0;
    this.failures = 0;
  }

  private applyCoolDown(): void {
    if (this.current === 'open' && this.clock.now() >= this.openedAt + this.options.openMs) this.transition('half-open');
  }

  private transition(to: BreakerState): void {
    const from = this.current;
    const now = this.clock.now();
    this.current = to;
    this.lastTransitionAt = now;
    this.probesAdmitted = 0;
    this.probeSuccesses = 0;
    if (to === 'open') this.openedAt = now;
    if (to === 'half-open') this.halfOpenAt = now;
    if (from === 'half-open') this.clearWindow();
    // The listener sees the breaker already in its new state, so it may call back into it.
    this.onStateChange?.(from, to, this.snapshotNow());
  }

  private snapshotNow(): BreakerSnapshot {
    return {
      state: this.current,
      failureRatePercent: this.calls === 0 ? 0 : (this.failures * 100) / this.calls,
      callsInWindow: this.calls,
      failuresInWindow: this.failures,
      lastTransitionAt: this.lastTransitionAt,
      nextProbeAt: this.current === 'open' ? this.openedAt + this.options.openMs : null,
    };
  }
}
