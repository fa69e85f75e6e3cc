import type { Clock } from '../clock.js';

/**
 * The request header that carries a deadline: the milliseconds the client will still wait. The
 * gateway reads it from the client and sends the remaining time on to the backend, so nobody
 * works on an answer that nobody waits for.
 */
export const DEADLINE_HEADER = 'x-strangler-deadline-ms';

/** At most 10 digits (about 115 days): longer is not a deadline, and stays far inside a safe integer. */
const DEADLINE_VALUE = /^\d{1,10}$/;

/** A point in time by which a request must be answered, measured on the given clock. */
export class Deadline {
  /** Epoch ms (from the clock) at which the deadline passes. */
  readonly expiresAt: number;

  private readonly clock: Clock;

  /** @param budgetMs time from now; a negative or non-finite value throws a RangeError. */
  constructor(budgetMs: number, clock: Clock) {
    if (!Number.isFinite(budgetMs) || budgetMs < 0) throw new RangeError(`budgetMs must be a finite number >= 0, got ${budgetMs}`);
    this.clock = clock;
    this.expiresAt = clock.now() + budgetMs;
  }

  /** Milliseconds left, never negative. */
  remainingMs(): number {
    return Math.max(0, this.expiresAt - this.clock.now());
  }

  /** true once no time is left (remainingMs() is 0). */
  expired(): boolean {
    return this.remainingMs() === 0;
  }

  /**
   * The deadline for a request: the client's {@link DEADLINE_HEADER} value when it is a
   * non-negative integer of at most 10 digits and shorter than `defaultMs`; otherwise
   * `defaultMs`. A client may shorten its own deadline, never lengthen the gateway's, and a
   * malformed value is ignored rather than refused: the header is advice.
   */
  static fromHeader(value: string | undefined, defaultMs: number, clock: Clock): Deadline {
    if (value !== undefined && DEADLINE_VALUE.test(value)) {
      const clientMs = Number(value);
      if (clientMs < defaultMs) return new Deadline(clientMs, clock);
    }
    return new Deadline(defaultMs, clock);
  }
}
