import { describe, expect, it } from 'vitest';
import { nextStep, type FailedTry, type FailoverPolicy } from '../../../src/resilience/failover.js';
import type { FailureKind } from '../../../src/resilience/replay.js';
import { lcg } from './fake-clock.js';

const policy = (over: Partial<FailoverPolicy> = {}): FailoverPolicy => ({
  retries: 1,
  fallback: true,
  method: 'GET',
  bodyReplayable: true,
  hasIdempotencyKey: false,
  remainingMs: 60_000,
  ...over,
});

const failed = (kind: FailureKind, over: Partial<FailedTry> = {}): FailedTry => ({ backend: 'modern', kind, tries: 1, ...over });

/** A budget that counts what it was asked. */
function budget(grant = true) {
  const b = { asked: 0, tryRetry: () => (b.asked++, grant) };
  return b;
}

describe('nextStep: fall back first', () => {
  it.each<[FailureKind, number | undefined, string]>([
    ['timeout', undefined, 'timeout'],
    ['connect-error', undefined, 'connect-error'],
    ['reset', undefined, 'connect-error'],
    ['upstream-5xx', 502, 'upstream-5xx'],
    ['upstream-5xx', 503, 'upstream-5xx'],
    ['upstream-5xx', 504, 'upstream-5xx'],
    ['upstream-5xx', 500, 'upstream-5xx'],
    ['breaker-open', undefined, 'breaker-open'],
    ['bulkhead-full', undefined, 'bulkhead-full'],
  ])('a GET whose modern try failed with %s (%s) goes to legacy at once, no retry on modern (reason %s)', (kind, status, reason) => {
    const b = budget();
    expect(nextStep(failed(kind, { status }), policy({ retries: 3 }), b, lcg(1))).toEqual({ action: 'fallback', reason });
    expect(b.asked).toBe(0); // no retry was charged
  });

  it('a PUT with a buffered body falls back first too', () => {
    expect(nextStep(failed('timeout'), policy({ method: 'PUT' }), budget(), lcg(1)).action).toBe('fallback');
  });

  it('a POST that never reached modern (connect error) falls back first', () => {
    expect(nextStep(failed('connect-error'), policy({ method: 'POST' }), budget(), lcg(1))).toEqual({ action: 'fallback', reason: 'connect-error' });
  });

  it.each<[FailureKind, number | undefined]>([
    ['timeout', undefined],
    ['reset', undefined],
    ['upstream-5xx', 503],
  ])('with fallback off, a GET that failed with %s (%s) is retried on modern as before', (kind, status) => {
    const step = nextStep(failed(kind, { status }), policy({ fallback: false }), budget(), lcg(1));
    expect(step.action).toBe('retry');
  });

  it('with fallback off and the retries spent, gives up', () => {
    expect(nextStep(failed('timeout', { tries: 2 }), policy({ fallback: false }), budget(), lcg(1))).toEqual({ action: 'give-up' });
  });

  it('a POST with Idempotency-Key that may have reached modern is retried on modern, never sent to legacy', () => {
    const p = policy({ method: 'POST', hasIdempotencyKey: true, retries: 2 });
    expect(nextStep(failed('reset'), p, budget(), lcg(1)).action).toBe('retry');
    expect(nextStep(failed('reset', { tries: 2 }), p, budget(), lcg(1)).action).toBe('retry');
    expect(nextStep(failed('reset', { tries: 3 }), p, budget(), lcg(1))).toEqual({ action: 'give-up' });
  });

  it('a POST without a key that may have reached modern is neither retried nor sent to legacy', () => {
    expect(nextStep(failed('timeout'), policy({ method: 'POST', retries: 3 }), budget(), lcg(1))).toEqual({ action: 'give-up' });
  });

  it('a 429 is retried on modern after its Retry-After, never a fallback', () => {
    expect(nextStep(failed('rate-limited', { status: 429, retryAfterMs: 1_000 }), policy(), budget(), lcg(1))).toEqual({ action: 'retry', delayMs: 1_000 });
    expect(nextStep(failed('rate-limited', { status: 429, tries: 2 }), policy(), budget(), lcg(1))).toEqual({ action: 'give-up' });
  });

  it('a streamed (non-buffered) body is never replayed anywhere', () => {
    expect(nextStep(failed('timeout'), policy({ bodyReplayable: false }), budget(), lcg(1))).toEqual({ action: 'give-up' });
  });

  it('legacy failures are retried on legacy (there is nothing to fall back to)', () => {
    expect(nextStep(failed('timeout', { backend: 'legacy' }), policy(), budget(), lcg(1)).action).toBe('retry');
    expect(nextStep(failed('timeout', { backend: 'legacy' }), policy(), budget(false), lcg(1))).toEqual({ action: 'give-up' });
  });

  it('with the deadline spent, neither falls back nor retries', () => {
    expect(nextStep(failed('timeout'), policy({ remainingMs: 0 }), budget(), lcg(1))).toEqual({ action: 'give-up' });
  });

  it('a retry the budget refuses is not taken', () => {
    expect(nextStep(failed('timeout'), policy({ fallback: false }), budget(false), lcg(1))).toEqual({ action: 'give-up' });
  });
});
