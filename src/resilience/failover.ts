import type { Random } from '../clock.js';
import type { Side } from '../routing/schema.js';
import { DEFAULT_BACKOFF, fullJitterDelay } from './backoff.js';
import { isReplaySafe, isTransientStatus, neverReachedBackend, type FailureKind } from './replay.js';

/** What `x-strangler-fallback` says when legacy served a request meant for modern. */
export type FallbackReason =
  | 'breaker-open'
  | 'timeout'
  | 'connect-error'
  | 'upstream-5xx'
  | 'bulkhead-full'
  /** A hedged request legacy answered first, while modern was still slow. */
  | 'hedge'
  | `fallthrough-${number}`;

export interface FailedTry {
  backend: Side;
  kind: FailureKind;
  /** The backend's status, for upstream-5xx and rate-limited. */
  status?: number | undefined;
  /** From a 429's Retry-After. */
  retryAfterMs?: number | undefined;
  /** Tries already made on this backend, this one included. */
  tries: number;
}

export interface FailoverPolicy {
  retries: number;
  fallback: boolean;
  method: string;
  /** The body (if any) is buffered and can be sent again. */
  bodyReplayable: boolean;
  hasIdempotencyKey: boolean;
  remainingMs: number;
}

export type FailoverStep =
  | { action: 'retry'; delayMs: number }
  | { action: 'fallback'; reason: FallbackReason }
  | { action: 'give-up' };

const FALLBACK_REASON: Partial<Record<FailureKind, FallbackReason>> = {
  'connect-error': 'connect-error',
  reset: 'connect-error',
  timeout: 'timeout',
  'upstream-5xx': 'upstream-5xx',
  'breaker-open': 'breaker-open',
  'bulkhead-full': 'bulkhead-full',
};

/**
 * After a failed try: fall back from modern to legacy at once where that is allowed (the route's
 * fallback is on, the failure is one legacy can stand in for, and the request may be replayed to
 * legacy), since legacy is healthy and already knows the answer; else retry the same backend
 * (transient failures only, within the retry count, the deadline and the backend's retry
 * budget); else give up. So modern is retried only when the route has no fallback, when the
 * request may be replayed only to modern (a POST with `Idempotency-Key`), and for a 429, which
 * never falls back. Pure: the budget and randomness are passed in.
 */
export function nextStep(
  failed: FailedTry,
  policy: FailoverPolicy,
  budget: { tryRetry(): boolean },
  random: Random,
): FailoverStep {
  const neverReached = neverReachedBackend(failed.kind);
  const replay = { method: policy.method, bodyReplayable: policy.bodyReplayable, neverReached, hasIdempotencyKey: policy.hasIdempotencyKey };
  const reason = FALLBACK_REASON[failed.kind];
  if (
    failed.backend === 'modern' &&
    policy.fallback &&
    reason !== undefined &&
    policy.remainingMs > 0 &&
    isReplaySafe({ ...replay, toSameBackend: false })
  ) {
    return { action: 'fallback', reason };
  }
  if (isTransient(failed) && failed.tries <= policy.retries && isReplaySafe({ ...replay, toSameBackend: true })) {
    const delayMs = failed.retryAfterMs ?? fullJitterDelay(failed.tries - 1, DEFAULT_BACKOFF.baseMs, DEFAULT_BACKOFF.capMs, random);
    // The budget is asked last, so a retry it grants is a retry that happens.
    if (delayMs < policy.remainingMs && budget.tryRetry()) return { action: 'retry', delayMs };
  }
  return { action: 'give-up' };
}

function isTransient(failed: FailedTry): boolean {
  switch (failed.kind) {
    case 'connect-error':
    case 'timeout':
    case 'reset':
      return true;
    case 'upstream-5xx':
    case 'rate-limited':
      return failed.status !== undefined && isTransientStatus(failed.status);
    default:
      return false;
  }
}
