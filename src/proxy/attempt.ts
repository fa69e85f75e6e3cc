import type { ServerResponse } from 'node:http';
import { errors, type Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import type { CircuitBreaker } from '../resilience/breaker.js';
import type { Side } from '../routing/schema.js';
import { ClientGoneError } from './forward.js';
import type { HedgeLeg } from './hedge.js';
import { BodyTooLargeError } from './limits.js';
import type { Upstream } from '../backends/upstream.js';

/**
 * undici runs headersTimeout on its "fast timers", which tick every 499 ms: a 300 ms timeout
 * fires after 0.5 to 1 s. Shorter timeouts than this get a timer of their own (one per try).
 */
export const FAST_TIMER_RESOLUTION_MS = 1_000;

/** Thrown into an attempt the exchange decided not to use, to free its socket. */
export class DiscardedError extends Error {
  constructor() {
    super('response discarded for a retry, a fallback or a hedge');
  }
}

/** Sees the answer the client gets as it streams by (shadow mode keeps legacy's to compare); never delays it. */
export interface ResponseTap {
  head(status: number, rawHeaders: Buffer[]): void;
  data(chunk: Buffer): void;
  /** The exchange ended; `complete` when the answer reached the client whole. */
  finished(complete: boolean): void;
}

/** What an attempt reports to, and asks of, its exchange (proxy/exchange.ts). */
export interface AttemptHost {
  /** The response head arrived: true to send it to the client, false to drop it (a retry, fallback or rival answers instead). */
  judge(attempt: Attempt, status: number, rawHeaders: Buffer[]): boolean;
  /** The backend's head could not be written to the client: answer 502 and log why. */
  headUnwritable(attempt: Attempt, err: Error): void;
  /** The head for the client: the backend's headers plus the gateway's own. */
  responseHeaders(backend: Side, raw: Buffer[]): string[];
  /** Whether a 5xx answer counts against the route's modern breaker. */
  readonly countsServerErrors: boolean;
  /** Failed before any response head: connection error, timeout, reset. */
  attemptFailed(attempt: Attempt, err: Error): void;
  attemptCompleted(attempt: Attempt, status: number, error?: Error): void;
  /** A modern try stopped waiting for its head after `ms`. */
  modernTryEnded(ms: number): void;
  readonly response: ServerResponse;
}

/**
 * One try on one backend. Streams the answer to the client with backpressure once the exchange
 * accepts it; reports breaker outcomes and leaves the bulkhead exactly once.
 */
export class Attempt implements Dispatcher.DispatchHandler, HedgeLeg {
  /** True until the response head arrives, or the attempt fails or is cancelled. */
  waiting = true;
  /** Lost a hedge race: whatever undici reports later is ignored. */
  private cancelled = false;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private pendingAbort: Error | undefined;
  private resume: (() => void) | undefined;
  private status = 0;
  private committed = false;
  private discarded: (() => void) | undefined;
  private settled = false;
  private left = false;
  /** Given up on before its connection opened: whatever undici reports later is ignored. */
  private abandoned = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private headTimer: NodeJS.Timeout | undefined;
  private readonly startedAt: number;

  constructor(
    private readonly exchange: AttemptHost,
    readonly backend: Side,
    readonly upstream: Upstream,
    private readonly breaker: CircuitBreaker | undefined,
    private readonly clock: Clock,
    /** Set on the legacy try of a shadow-mode request. */
    private readonly tap?: ResponseTap,
  ) {
    // Only modern's tries need their duration: the breaker and the hedge delays read it.
    this.startedAt = breaker === undefined ? 0 : clock.now();
  }

  abort(err: Error): void {
    if (this.left) return;
    if (this.abortUpstream) this.abortUpstream(err);
    else this.pendingAbort = err;
  }

  /** Lost a hedge race: frees its socket and breaker permit; never a failure, unless it had already failed. */
  cancel(): void {
    if (!this.waiting) return;
    this.stopWaiting();
    this.cancelled = true;
    this.recordBreaker('released');
    this.abort(new DiscardedError());
  }

  /** The attempt no longer waits for its head; modern's time to here is what percentile hedging follows. */
  private stopWaiting(): void {
    if (!this.waiting) return;
    this.waiting = false;
    // Neither timer may fire for an attempt that no longer waits (a cancelled loser above all).
    if (this.headTimer !== undefined) clearTimeout(this.headTimer);
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    if (this.breaker !== undefined) this.exchange.modernTryEnded(this.clock.now() - this.startedAt);
  }

  /** Drops this attempt's answer; `next` runs once its socket is let go. */
  discard(next: () => void): void {
    this.discarded = next;
  }

  /** Fails the attempt as a connect error unless its connection opens within `ms`. */
  limitConnect(ms: number): void {
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      this.abandon(new errors.ConnectTimeoutError(`connect timeout (${ms} ms)`));
    }, ms);
  }

  /**
   * Fails the attempt as a timeout unless its response head arrives within `ms`. undici checks
   * its own headersTimeout on a clock that ticks every half second, so a short one would fire up
   * to a second late; see {@link FAST_TIMER_RESOLUTION_MS}.
   */
  limitHead(ms: number): void {
    this.headTimer = setTimeout(() => {
      this.headTimer = undefined;
      if (this.abortUpstream !== undefined) this.abortUpstream(new errors.HeadersTimeoutError());
      else this.abandon(new errors.ConnectTimeoutError(`no connection within the ${ms} ms timeout`));
    }, ms);
  }

  /** Gives up before the connection opened: whatever undici reports later is ignored. */
  private abandon(err: Error): void {
    this.abandoned = true;
    this.stopWaiting();
    this.recordBreaker('failure');
    // Nothing was written yet (undici writes only after onConnect), so any method may fall back.
    this.exchange.attemptFailed(this, err);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    // Aborting here stops undici before it writes a byte of the request.
    if (this.abandoned || this.cancelled) abort(new DiscardedError());
    else if (this.pendingAbort) abort(this.pendingAbort);
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
    if (this.cancelled) return false;
    this.stopWaiting();
    this.status = statusCode;
    this.recordBreaker(statusCode >= 500 ? 'server-error' : 'success');
    if (!this.exchange.judge(this, statusCode, rawHeaders)) {
      this.leave();
      this.abortUpstream?.(new DiscardedError());
      return false;
    }
    try {
      this.exchange.response.writeHead(statusCode, this.exchange.responseHeaders(this.backend, rawHeaders));
    } catch (err) {
      // Node refused the head (a header it will not write): the answer failed, it is not a 200.
      this.leave();
      this.discard(() => this.exchange.headUnwritable(this, err as Error));
      this.abortUpstream?.(new DiscardedError());
      return false;
    }
    this.committed = true;
    this.resume = resume;
    this.tap?.head(statusCode, rawHeaders);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (!this.committed) return false;
    const res = this.exchange.response;
    const writable = res.write(chunk);
    this.tap?.data(chunk);
    if (!writable) res.once('drain', this.resume!);
    return writable;
  }

  onComplete(): void {
    this.leave();
    if (!this.committed) return;
    this.exchange.response.end();
    this.exchange.attemptCompleted(this, this.status);
  }

  onError(err: Error): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.leave();
    if (this.abandoned || this.cancelled) return;
    this.stopWaiting();
    if (this.discarded !== undefined) return this.discarded();
    if (this.committed) {
      // Mid-body failure: abort the client's connection so a truncated body is never taken as whole.
      this.exchange.response.destroy(err);
      return this.exchange.attemptCompleted(this, this.status, err);
    }
    // The client's fault is not the backend's.
    this.recordBreaker(err instanceof ClientGoneError || err instanceof BodyTooLargeError ? 'released' : 'failure');
    this.exchange.attemptFailed(this, err);
  }

  private recordBreaker(outcome: 'success' | 'server-error' | 'failure' | 'released'): void {
    const breaker = this.breaker;
    if (breaker === undefined || this.settled) return;
    this.settled = true;
    const duration = this.clock.now() - this.startedAt;
    if (outcome === 'released') breaker.release();
    else if (outcome === 'success' || (outcome === 'server-error' && !this.exchange.countsServerErrors)) breaker.onSuccess(duration);
    else breaker.onFailure(duration);
  }

  /** Leaves the backend's bulkhead, once, whichever way the attempt ends. */
  private leave(): void {
    if (this.left) return;
    this.left = true;
    this.upstream.bulkhead.leave();
  }
}
