import { errors, type Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import { BodyCapture, headersOf, type Answer } from './answer.js';

/** How a copy ended: an answer, a failure (modern's fault: counted as an error), or abandoned at shutdown (not counted). */
export type CallOutcome = { answer: Answer; ms: number } | { error: Error } | { abandoned: true };

export interface CopyRequest {
  path: string;
  method: string;
  headers: string[];
  body: Uint8Array | null;
}

/** Pools destroyed at shutdown fail their requests with these: nobody's fault. */
const SHUTDOWN_CODES = new Set(['UND_ERR_DESTROYED', 'UND_ERR_CLOSED']);

/**
 * Sends one background copy and collects its answer: one try, no retry, no breaker, its own
 * timer for `timeoutMs` (undici's own timeouts tick too coarsely for short ones).
 */
export function sendCopy(dispatcher: Dispatcher, request: CopyRequest, timeoutMs: number, clock: Clock): Promise<CallOutcome> {
  return new Promise((resolve) => {
    const handler = new CopyHandler(clock, resolve);
    handler.limit(timeoutMs);
    // undici's own timeouts only as a backstop: they would fire before an answer already on the socket.
    const backstop = 2 * timeoutMs;
    dispatcher.dispatch({ ...request, headersTimeout: backstop, bodyTimeout: backstop }, handler);
  });
}

class CopyHandler implements Dispatcher.DispatchHandler {
  private readonly startedAt: number;
  private readonly capture = new BodyCapture();
  private status = 0;
  private headers: Record<string, string> = {};
  private abort: ((err?: Error) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private settled = false;
  private timedOut: Error | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly done: (outcome: CallOutcome) => void,
  ) {
    this.startedAt = clock.now();
  }

  limit(ms: number): void {
    // Decided after the loop's next poll: an answer already waiting on the socket of a thread that
    // got the CPU late (the copy thread yields it to clients) is not modern's timeout.
    this.timer = setTimeout(() => setImmediate(() => this.expire(ms)), ms);
  }

  private expire(ms: number): void {
    if (this.settled) return;
    this.timedOut = new errors.HeadersTimeoutError(`no complete answer within the route's ${ms} ms timeout`);
    this.abort?.(this.timedOut);
    this.settle({ error: this.timedOut });
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.timedOut !== undefined) abort(this.timedOut);
    else this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true;
    this.status = statusCode;
    this.headers = headersOf(rawHeaders);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.capture.add(chunk);
    return true;
  }

  onComplete(): void {
    this.settle({ answer: { status: this.status, headers: this.headers, body: this.capture.finish() }, ms: this.clock.now() - this.startedAt });
  }

  onError(err: Error): void {
    this.settle(SHUTDOWN_CODES.has((err as { code?: string }).code ?? '') ? { abandoned: true } : { error: err });
  }

  private settle(outcome: CallOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.done(outcome);
  }
}
