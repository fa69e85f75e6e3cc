import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Clock, Random } from '../clock.js';
import type { ErrorCode } from '../errors.js';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import type { CircuitBreaker } from '../resilience/breaker.js';
import { DEADLINE_HEADER, Deadline } from '../resilience/deadline.js';
import { nextStep, type FallbackReason } from '../resilience/failover.js';
import type { HedgeTiming } from '../resilience/hedge-delay.js';
import { isReplaySafe, retryAfterMs, type FailureKind } from '../resilience/replay.js';
import { DEFAULT_RESILIENCE, DEFAULT_ROUTE_SETTINGS, type ResilienceSettings, type Side } from '../routing/schema.js';
import { Attempt, FAST_TIMER_RESOLUTION_MS, type AttemptHost, type ResponseTap } from './attempt.js';
import { ClientGoneError, sendError, upstreamErrorCode, type ForwardOutcome } from './forward.js';
import { clientResponseHeaders, upstreamHost } from './headers.js';
import { Hedge, admitHedge, type HedgeWinner } from './hedge.js';
import { BodyTooLargeError } from './limits.js';
import type { Resolution } from './resolve.js';
import type { LiveBackends } from '../backends/live-backends.js';
import type { Upstream } from '../backends/upstream.js';

export interface ExchangeContext {
  backends: LiveBackends;
  breakers: BreakerRegistry;
  /** Each route's hedge delay, and where modern's try latencies go. */
  hedging: HedgeTiming;
  clock: Clock;
  random: Random;
  /** True once the gateway is shutting down: answers then close their connection. */
  draining(): boolean;
}

/** The outcome the access log records. */
export interface ExchangeOutcome extends ForwardOutcome {
  /** The side that answered (or would have). */
  backend: Side;
  /** The name of the backend that answered; undefined when the gateway answered itself before any try. */
  upstream: string | undefined;
  fallback: FallbackReason | undefined;
  tries: number;
  /** Set when a copy of the request went to legacy: which try answered. */
  hedge: HedgeWinner | undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * One client request's way through the backends: tries the chosen side, and on failure retries
 * or falls back to legacy as the route's resilience settings and the replay-safety rules allow,
 * all within the request's deadline. A backend's answer is committed to the client only once
 * the exchange knows it will not be replaced, so the client sees one response, never a mix.
 */
export class Exchange implements AttemptHost {
  private readonly resilience: ResilienceSettings;
  private readonly deadline: Deadline;
  private readonly tries: Record<Side, number> = { legacy: 0, modern: 0 };
  private fallback: FallbackReason | undefined;
  /**
   * The backend of the latest try, or of the try whose answer the client gets once one is
   * accepted. Held, not looked up again: a change may have removed it from the live set.
   */
  private answering: Upstream | undefined;
  private current: Attempt | undefined;
  /** Set when the request may be hedged to legacy (see hedge.ts). */
  private readonly hedge: Hedge | undefined;
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
    /** Shadow mode: sees legacy's answer as it streams to the client. */
    private readonly tap?: ResponseTap,
  ) {
    this.resilience = resolution.route?.resilience ?? DEFAULT_RESILIENCE;
    this.deadline = Deadline.fromHeader(header(req, DEADLINE_HEADER), this.resilience.deadlineMs, ctx.clock);
    // undici copies the headers when a try is dispatched, so one array serves every try.
    this.deadlineSlot = upstreamHeaders.push(DEADLINE_HEADER, '') - 1;
    this.hostSlot = upstreamHeaders.push('host', '') - 1;
    this.hedge = this.hedgeFor(resolution);
    res.once('close', () => {
      if (this.finished || res.writableFinished) return;
      this.clientGone = true;
      if (this.timer !== undefined) {
        // Gone while waiting to retry: no attempt is in flight to report it.
        clearTimeout(this.timer);
        this.finish({ status: 499, error: new ClientGoneError() }, this.resolution.backend);
      }
      this.current?.abort(new ClientGoneError());
      this.hedge?.abort(new ClientGoneError());
    });
  }

  start(): void {
    this.upstream(this.resolution.backend)?.budget.recordRequest();
    this.attempt(this.resolution.backend);
  }

  /** The named backend that serves `side` of this request's route: the one place it is looked up. */
  private upstream(side: Side): Upstream | undefined {
    return this.ctx.backends.forSide(this.resolution.route, side);
  }

  /** A hedge for a replay-safe request to modern on a route that hedges and may fall back; never for a streamed body. */
  private hedgeFor({ route, backend }: Resolution): Hedge | undefined {
    if (route === undefined || backend !== 'modern' || !this.resilience.fallback) return undefined;
    if (!isReplaySafe({ method: this.req.method!, bodyReplayable: this.bodyReplayable, neverReached: false, toSameBackend: false })) return undefined;
    const delayMs = this.ctx.hedging.delayMs(route);
    return delayMs === null ? undefined : new Hedge(delayMs, () => this.sendHedge());
  }

  /** Modern has not started answering within the hedge delay: a copy to legacy, if its bulkhead and budget allow. */
  private sendHedge(): void {
    const remaining = this.deadline.remainingMs();
    if (this.finished || this.clientGone || remaining <= 0) return;
    const legacy = this.upstream('legacy');
    if (legacy === undefined || !admitHedge(legacy)) return;
    this.tries.legacy++;
    this.hedge!.started(this.dispatch('legacy', legacy, undefined, remaining));
  }

  private get bodyReplayable(): boolean {
    return this.body === null || Buffer.isBuffer(this.body);
  }

  private attempt(backend: Side): void {
    if (this.clientGone) return this.finish({ status: 499, error: new ClientGoneError() }, backend);
    const remaining = this.deadline.remainingMs();
    if (remaining <= 0) return this.giveUp(backend, 'UPSTREAM_TIMEOUT', 'the request deadline passed');
    const upstream = this.upstream(backend);
    // Only between two reloads of a table another process changed; never routed to the wrong service.
    if (upstream === undefined) return this.giveUp(backend, 'UPSTREAM_CONNECT_ERROR', `backend for the ${backend} side is not loaded yet`);
    this.answering = upstream;
    this.tries[backend]++;
    const breaker = backend === 'modern' && this.resolution.route ? this.ctx.breakers.for(this.resolution.route) : undefined;
    if (breaker !== undefined && !breaker.tryAcquire()) return this.failed(upstream, backend, 'breaker-open');
    if (!upstream.bulkhead.tryEnter()) {
      breaker?.release();
      return this.failed(upstream, backend, 'bulkhead-full');
    }
    this.current = this.dispatch(backend, upstream, breaker, remaining);
    if (backend === 'modern') this.hedge?.arm(this.current);
  }

  /** Sends one try to `backend`, whose bulkhead (and breaker, for modern) admitted it. */
  private dispatch(backend: Side, upstream: Upstream, breaker: CircuitBreaker | undefined, remaining: number): Attempt {
    const tryTimeout = this.resolution.route?.timeoutMs ?? DEFAULT_ROUTE_SETTINGS.timeoutMs;
    const headersTimeout = Math.min(tryTimeout, remaining);
    const { connectTimeoutMs } = this.resilience;
    const attempt = new Attempt(this, backend, upstream, breaker, this.ctx.clock, backend === 'legacy' ? this.tap : undefined);
    // The pool enforces its own connect timeout; a route's shorter one needs a timer of its own,
    // and so does a timeout too short for undici's coarse clock.
    // Not for a streamed body: the abandoned attempt would destroy the client's stream when it ends.
    if (this.bodyReplayable) {
      if (connectTimeoutMs < upstream.connectTimeoutMs) attempt.limitConnect(Math.min(connectTimeoutMs, remaining));
      if (headersTimeout < FAST_TIMER_RESOLUTION_MS) attempt.limitHead(headersTimeout);
    }
    this.upstreamHeaders[this.deadlineSlot] = String(remaining);
    this.upstreamHeaders[this.hostSlot] = upstreamHost(upstream, this.req.headers.host);
    upstream.pool.dispatch(
      {
        path: upstream.basePath + this.resolution.target,
        method: this.req.method!,
        headers: this.upstreamHeaders,
        body: this.body,
        headersTimeout,
        bodyTimeout: tryTimeout,
      },
      attempt,
    );
    return attempt;
  }

  /**
   * Called when a backend's response head arrives: true to send it to the client, false to drop
   * it because a retry or a fallback will answer instead.
   */
  judge(attempt: Attempt, status: number, rawHeaders: Buffer[]): boolean {
    const { backend } = attempt;
    const fallsThrough = backend === 'modern' && this.fallsThrough(status);
    const kind: FailureKind | undefined = status === 429 ? 'rate-limited' : status >= 500 ? 'upstream-5xx' : undefined;
    this.hedge?.disarm();
    if (this.hedge?.sent) {
      // Racing: the first acceptable answer wins; no third try.
      if (!this.hedge.answered(attempt, !fallsThrough && kind === undefined)) {
        attempt.discard(() => {});
        return false;
      }
      if (backend === 'legacy') this.fallback = 'hedge';
      this.answering = attempt.upstream;
      return true;
    }
    if (fallsThrough) {
      attempt.discard(() => this.fallBack(`fallthrough-${status}`));
      return false;
    }
    if (kind === undefined) return true;
    const step = this.step(attempt.upstream, backend, kind, status, kind === 'rate-limited' ? retryAfterOf(rawHeaders, this.ctx.clock) : undefined);
    if (step.action === 'give-up') return true;
    attempt.discard(() => this.take(step, backend));
    return false;
  }

  /** A safe request modern answered with a status the route serves from legacy (not ported yet). */
  private fallsThrough(status: number): boolean {
    const { fallback, fallthroughStatuses } = this.resilience;
    return fallback && fallthroughStatuses.includes(status) && SAFE_METHODS.has(this.req.method!) && this.bodyReplayable;
  }

  /** The response head for an answer from `backend`, with the gateway's own headers. */
  responseHeaders(backend: Side, raw: Buffer[]): string[] {
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
    this.hedge?.disarm();
    if (this.hedge?.sent) {
      // Racing: wait for the rival; with none left, the usual error answer.
      if (this.hedge.failed(attempt)) return;
      return this.giveUp(attempt.backend, upstreamErrorCode(err), undefined, err);
    }
    this.failed(attempt.upstream, attempt.backend, failureKind(err), err);
  }

  /** A modern try stopped waiting for its head (answered, failed or cancelled) after `ms`. */
  modernTryEnded(ms: number): void {
    this.ctx.hedging.recordModernTry(this.resolution.route!, ms);
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

  private failed(upstream: Upstream, backend: Side, kind: FailureKind, err?: Error): void {
    const step = this.step(upstream, backend, kind);
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

  /** What to do after a failed try on `upstream` (whose budget a retry would spend). */
  private step(upstream: Upstream, backend: Side, kind: FailureKind, status?: number, retryAfter?: number) {
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
      upstream.budget,
      this.ctx.random,
    );
  }

  private take(step: { action: 'retry'; delayMs: number } | { action: 'fallback'; reason: FallbackReason }, backend: Side): void {
    if (step.action === 'fallback') return this.fallBack(step.reason);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt(backend);
    }, step.delayMs);
  }

  private fallBack(reason: FallbackReason): void {
    this.fallback = reason;
    this.upstream('legacy')?.budget.recordRequest();
    this.attempt('legacy');
  }

  private giveUp(backend: Side, code: ErrorCode, message?: string, err?: Error): void {
    const headers = this.gatewayHeaders(backend);
    if (code === 'CIRCUIT_OPEN' || code === 'BACKEND_BUSY') headers.push('retry-after', '1');
    sendError(this.res, code, message, headers);
    this.finish(err === undefined ? { status: this.res.statusCode } : { status: this.res.statusCode, error: err }, backend);
  }

  /** The client headers plus which backend answered and why; called once, for the one answer the client gets. */
  private gatewayHeaders(backend: Side): string[] {
    // Decided as the head is written, so an answer begun before a drain started still closes.
    if (this.ctx.draining()) this.res.shouldKeepAlive = false;
    const headers = this.clientHeaders;
    headers.push('x-strangler-backend', backend);
    if (this.answering !== undefined) headers.push('x-strangler-upstream', this.answering.name);
    if (this.fallback !== undefined) headers.push('x-strangler-fallback', this.fallback);
    return headers;
  }

  private finish(outcome: ForwardOutcome, backend: Side): void {
    if (this.finished) return;
    this.finished = true;
    this.hedge?.disarm();
    this.tap?.finished(outcome.error === undefined);
    const tries = this.tries.legacy + this.tries.modern;
    const upstream = this.answering?.name;
    this.done({ status: outcome.status, error: outcome.error, backend, upstream, fallback: this.fallback, tries, hedge: this.hedge?.outcome });
  }

  get response(): ServerResponse {
    return this.res;
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
