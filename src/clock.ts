/** Time and randomness are passed in, so decision logic can be driven by tests. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Returns a float in [0, 1). */
export type Random = () => number;

export const systemClock: Clock = { now: () => Date.now() };
export const systemRandom: Random = () => Math.random();
