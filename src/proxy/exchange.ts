import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { errors, type Dispatcher } from 'undici';
import type { Clock, Random } from '../clock.js';
import type { ErrorCode } from '../errors.js';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import type { CircuitBreaker } from '../resilience/breaker.js';
import { DEADLINE_HEADER, Deadline } from '../resilience/deadline.js';
import { nextStep, type FallbackReason } from '../resilience/failover.js';
import { retryAfterMs, type FailureKind } from '../resilience/replay.js';
import { DEFAULT_RESILIENCE, DEFAULT_ROUTE_SETTINGS, type Backend, type ResilienceSettings } from '../routing/schema.js';
import { ClientGoneError, sendError, upstreamErrorCode, type ForwardOutcome } from './forward.js';
import { clientResponseHeaders, upstreamHost } from './headers.js';
import { BodyTooLargeError } from './limits.js';
import type { Resolution } from './resolve.js';
import type { Upstream } from './upstream.js';

export interface ExchangeContext {
  upstreams: Record<Backend, Upstream>;
  breakers: BreakerRegistry;
  clock: Clock;
  random: Random;
  /** True once the gateway is shutting down: answers then close their connection. */
  draining(): boolean;
}

/** The outcome the access log records. */
export interface ExchangeOutcome extends ForwardOutcome {
  backend: Backend;
  fallback: FallbackReason | undefined;
  tries: number;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Thrown into an attempt the exchange decided not to use, to free its socket. */
class DiscardedError extends Error {
  constructor() {
    super('response discarded for a retry or fallback');
  }
}

/**
 * One client request's way through the backends: tries the chosen side, and on failure retries
 * or falls back to legacy as the route's resilience settings and the replay-safety rules allow,
 * all within the request's deadline. A backend's answer is committed to the client only once
 * the exchange knows it will not be replaced, so the client sees one response, never a mix.
 */
export class Exchange {
  private readonly resilience: ResilienceSettings;
  private readonly deadline: Deadline;
  private readonly tries: Record<Backend, number> = { legacy: 0, modern: 0 };
  private fallback: FallbackReason | undefined;
  private current: Attempt | undefined;
  private clientGone = false;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  /** Where the deadline header's value sits in `upstreamHeaders`, rewritten before each try. */
  private readonly deadlineSlot: number;
  /** Where the Host header's value sits: each try's backend decides it (its `hostHeader`). */
  private readonly hostSlot: number;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly resolution: Resolution,
    /** The buffered body, null for none, or a stream of it (the request itself or a counted copy; not replayable). */
    private readonly body: Buffer | Readable | null,
    /** End-to-end request headers plus the gateway's (X-Forwarded-*, X-Request-Id); owned by the exchange. */
    private readonly upstreamHeaders: string[],
    /** Headers every answer carries: request id, route, a canary cookie, `Connection: close` when draining; owned by the exchange. */
    private readonly clientHeaders: string[],
    private readonly done: (outcome: ExchangeOutcome) => void,
  ) {
    this.resilience = resolution.route?.resilience ?? DEFAULT_RESILIENCE;
    this.deadline = Deadline.fromHeader(header(req, DEADLINE_HEADER), this.resilience.deadlineMs, ctx.clock);
    // undici copies the headers when a try is dispatched, so one array serves every try.
    this.deadlineSlot = upstreamHeaders.push(DEADLINE_HEADER, '') - 1;
    this.hostSlot = upstreamHeaders.push('host', '') - 1;
    res.once('close', () => {
      if (this.finished || res.writableFinished) return;
      this.clientGone = true;
      if (this.timer !== undefined) {
        // Gone while waiting to retry: no attempt is in flight to report it.
        clearTimeout(this.timer);
        this.finish({ status: 499, error: new ClientGoneError() }, this.resolution.backend);
      }
      this.current?.abort(new ClientGoneError());
    });
  }

  start(): void {
    this.ctx.upstreams[this.resolution.backend].budget.recordRequest();
    this.attempt(this.resolution.backend);
  }

  private get bodyReplayable(): boolean {
    return this.body === null || Buffer.isBuffer(this.body);
  }

  private attempt(backend: Backend): void {
    if (this.clientGone) return this.finish({ status: 499, error: new ClientGoneError() }, backend);
    const remaining = this.deadline.remainingMs();
    if (remaining <= 0) return this.giveUp(backend, 'UPSTREAM_TIMEOUT', 'the request deadline passed');
    this.tries[backend]++;
    const upstream = this.ctx.upstreams[backend];
    const breaker = backend === 'modern' && this.resolution.route ? this.ctx.breakers.for(this.resolution.route) : undefined;
    if (breaker !== undefined && !breaker.tryAcquire()) return this.failed(backend, 'breaker-open');
    if (!upstream.bulkhead.tryEnter()) {
      breaker?.release();
      return this.failed(backend, 'bulkhead-full');
    }
    const tryTimeout = this.resolution.route?.timeoutMs ?? DEFAULT_ROUTE_SETTINGS.timeoutMs;
    const { connectTimeoutMs } = this.resilience;
    this.current = new Attempt(this, backend, upstream, breaker, this.ctx.clock);
    // The pool enforces its own connect timeout; a route's shorter one needs a timer of its own.
    // Not for a streamed body: the abandoned attempt would destroy the client's stream when it ends.
    if (connectTimeoutMs < upstream.connectTimeoutMs && this.bodyReplayable) {
      this.current.limitConnect(Math.min(connectTimeoutMs, remaining));
    }
    this.upstreamHeaders[this.deadlineSlot] = String(remaining);
    this.upstreamHeaders[this.hostSlot] = upstreamHost(upstream, this.req.headers.host);
    upstream.pool.dispatch(
      {
        path: upstream.basePath + this.resolution.target,
        method: this.req.method!,
        headers: this.upstreamHeaders,
        body: this.body,
        headersTimeout: Math.min(tryTimeout, remaining),
        bodyTimeout: tryTimeout,
      },
      this.current,
    );
  }

  /**
   * Called when a backend's response head arrives: true to send it to the client, false to drop
   * it because a retry or a fallback will answer instead.
   */
  judge(attempt: Attempt, status: number, rawHeaders: Buffer[]): boolean {
    const { backend } = attempt;
    if (
      backend === 'modern' &&
      this.resilience.fallback &&
      this.resilience.fallthroughStatuses.includes(status) &&
      SAFE_METHODS.has(this.req.method!) &&
      this.bodyReplayable
    ) {
      attempt.discard(() => this.fallBack(`fallthrough-${status}`));
      return false;
    }
    const kind: FailureKind | undefined = status === 429 ? 'rate-limited' : status >= 500 ? 'upstream-5xx' : undefined;
    if (kind === undefined) return true;
    const step = this.step(backend, kind, status, kind === 'rate-limited' ? retryAfterOf(rawHeaders, this.ctx.clock) : undefined);
    if (step.action === 'give-up') return true;
    attempt.discard(() => this.take(step, backend));
    return false;
  }

  /** The response head for an answer from `backend`, with the gateway's own headers. */
  responseHeaders(backend: Backend, raw: Buffer[]): string[] {
    return clientResponseHeaders(raw, this.gatewayHeaders(backend));
  }

  /** Whether a 5xx answer counts against the route's modern breaker. */
  get countsServerErrors(): boolean {
    return this.resilience.breaker.countServerErrors;
  }

  /** An attempt failed before any response head: connection error, timeout, reset. */
  attemptFailed(attempt: Attempt, err: Error): void {
    if (this.clientGone || err instanceof ClientGoneError) return this.finish({ status: 499, error: err }, attempt.backend);
    if (err instanceof BodyTooLargeError) return this.giveUp(attempt.backend, 'BODY_TOO_LARGE', err.message, err);
    this.failed(attempt.backend, failureKind(err), err);
  }

  /** The backend's head could not be written to the client: a 502, logged with the reason. */
  headUnwritable(attempt: Attempt, err: Error): void {
    // The client headers already name the backend (gatewayHeaders ran for the refused head).
    sendError(this.res, 'UPSTREAM_ERROR', 'the backend\'s response head could not be forwarded', this.clientHeaders);
    this.finish({ status: this.res.statusCode, error: err }, attempt.backend);
  }

  attemptCompleted(attempt: Attempt, status: number, error?: Error): void {
    this.finish(error === undefined ? { status } : { status, error }, attempt.backend);
  }

  private failed(backend: Backend, kind: FailureKind, err?: Error): void {
    const step = this.step(backend, kind);
    if (step.action !== 'give-up') return this.take(step, backend);
    switch (kind) {
      case 'breaker-open':
        return this.giveUp(backend, 'CIRCUIT_OPEN', undefined, err);
      case 'bulkhead-full':
        return this.giveUp(backend, 'BACKEND_BUSY', undefined, err);
      default:
        return this.giveUp(backend, err ? upstreamErrorCode(err) : 'UPSTREAM_ERROR', undefined, err);
    }
  }

  private step(backend: Backend, kind: FailureKind, status?: number, retryAfter?: number) {
    return nextStep(
      { backend, kind, status, retryAfterMs: retryAfter, tries: this.tries[backend] },
      {
        retries: this.resilience.retries,
        fallback: this.resilience.fallback,
        method: this.req.method!,
        bodyReplayable: this.bodyReplayable,
        hasIdempotencyKey: this.req.headers['idempotency-key'] !== undefined,
        remainingMs: this.deadline.remainingMs(),
      },
      this.ctx.upstreams[backend].budget,
      this.ctx.random,
    );
  }

  private take(step: { action: 'retry'; delayMs: number } | { action: 'fallback'; reason: FallbackReason }, backend: Backend): void {
    if (step.action === 'fallback') return this.fallBack(step.reason);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt(backend);
    }, step.delayMs);
  }

  private fallBack(reason: FallbackReason): void {
    this.fallback = reason;
    this.ctx.upstreams.legacy.budget.recordRequest();
    this.attempt('legacy');
  }

  private giveUp(backend: Backend, code: ErrorCode, message?: string, err?: Error): void {
    const headers = this.gatewayHeaders(backend);
    if (code === 'CIRCUIT_OPEN' || code === 'BACKEND_BUSY') headers.push('retry-after', '1');
    sendError(this.res, code, message, headers);
    this.finish(err === undefined ? { status: this.res.statusCode } : { status: this.res.statusCode, error: err }, backend);
  }

  /** The client headers plus which backend answered and why; called once, for the one answer the client gets. */
  private gatewayHeaders(backend: Backend): string[] {
    // Decided as the head is written, so an answer begun before a drain started still closes.
    if (this.ctx.draining()) this.res.shouldKeepAlive = false;
    const headers = this.clientHeaders;
    headers.push('x-strangler-backend', backend);
    if (this.fallback !== undefined) headers.push('x-strangler-fallback', this.fallback);
    return headers;
  }

  private finish(outcome: ForwardOutcome, backend: Backend): void {
    if (this.finished) return;
    this.finished = true;
    this.done({ status: outcome.status, error: outcome.error, backend, fallback: this.fallback, tries: this.tries.legacy + this.tries.modern });
  }

  get response(): ServerResponse {
    return this.res;
  }
}

/**
 * One try on one backend. Streams the answer to the client with backpressure once the exchange
 * accepts it; reports breaker outcomes and leaves the bulkhead exactly once.
 */
class Attempt implements Dispatcher.DispatchHandler {
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
  private readonly startedAt: number;

  constructor(
    private readonly exchange: Exchange,
    readonly backend: Backend,
    private readonly upstream: Upstream,
    private readonly breaker: CircuitBreaker | undefined,
    private readonly clock: Clock,
  ) {
    // Only the breaker needs the duration.
    this.startedAt = breaker === undefined ? 0 : clock.now();
  }

  abort(err: Error): void {
    if (this.abortUpstream) this.abortUpstream(err);
    else this.pendingAbort = err;
  }

  /** Drops this attempt's answer; `next` runs once its socket is let go. */
  discard(next: () => void): void {
    this.discarded = next;
  }

  /** Fails the attempt as a connect error unless its connection opens within `ms`. */
  limitConnect(ms: number): void {
    this.connectTimer = setTimeout(() => {
      this.connectTimer = undefined;
      this.abandoned = true;
      this.recordBreaker('failure');
      // Nothing was written yet (undici writes only after onConnect), so any method may fall back.
      this.exchange.attemptFailed(this, new errors.ConnectTimeoutError(`connect timeout (${ms} ms)`));
    }, ms);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.connectTimer !== undefined) {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
    // Aborting here stops undici before it writes a byte of the request.
    if (this.abandoned) abort(new DiscardedError());
    else if (this.pendingAbort) abort(this.pendingAbort);
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true;
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
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (!this.committed) return false;
    const res = this.exchange.response;
    const writable = res.write(chunk);
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
    if (this.abandoned) return;
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

function failureKind(err: Error): FailureKind {
  const code = upstreamErrorCode(err);
  if (code === 'UPSTREAM_CONNECT_ERROR') return 'connect-error';
  if (code === 'UPSTREAM_TIMEOUT') return 'timeout';
  return 'reset';
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function retryAfterOf(raw: Buffer[], clock: Clock): number | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toString('latin1').toLowerCase() === 'retry-after') return retryAfterMs(raw[i + 1]!.toString('latin1'), clock.now());
  }
  return undefined;
}
