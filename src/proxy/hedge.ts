import type { Side } from '../routing/schema.js';
import type { Upstream } from '../backends/upstream.js';

/** Which try answered a hedged request: `none` when neither could. */
export type HedgeWinner = Side | 'none';

/** What the race needs of a try. */
export interface HedgeLeg {
  readonly backend: Side;
  /** True until its response head arrives or it fails or is cancelled. */
  readonly waiting: boolean;
  /** Stops the try and frees its socket; what it reports afterwards is ignored. */
  cancel(): void;
  abort(err: Error): void;
}

/**
 * One request's hedge (`resilience.hedgeAfterMs`): a timer armed when the modern try is sent.
 * When it fires before modern has started answering, the exchange sends a copy to legacy
 * (see {@link admitHedge}); from then on the first acceptable answer wins and the other try is
 * cancelled, and no third try is made: an answer that would have meant a retry or a fallback
 * is dropped while the rival still waits, and passed through when it is the last one standing.
 */
export class Hedge {
  private timer: NodeJS.Timeout | undefined;
  private modern: HedgeLeg | undefined;
  private legacy: HedgeLeg | undefined;
  private winner: HedgeWinner | undefined;

  constructor(
    private readonly delayMs: number,
    /** Called when the timer fires: sends the copy to legacy, or does nothing if it may not. */
    private readonly fire: () => void,
  ) {}

  /** True once the copy went to legacy: the request is racing, or has raced. */
  get sent(): boolean {
    return this.legacy !== undefined;
  }

  /** The modern try was sent: start the clock (once per request, never again after a copy went). */
  arm(modern: HedgeLeg): void {
    if (this.sent) return;
    this.disarm();
    this.modern = modern;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (modern.waiting) this.fire();
    }, this.delayMs);
  }

  /** Modern started answering or failed, or the exchange is over: no copy. */
  disarm(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The copy to legacy is on its way. */
  started(legacy: HedgeLeg): void {
    this.legacy = legacy;
  }

  /**
   * A response head arrived during the race. true: it wins and the rival, if still waiting, is
   * cancelled. false: it is not `acceptable` (a 5xx, a 429, a fall-through status) and the rival
   * still waits, so drop it and wait.
   */
  answered(leg: HedgeLeg, acceptable: boolean): boolean {
    const rival = this.rivalOf(leg);
    if (!acceptable && rival !== undefined) return false;
    rival?.cancel();
    this.winner ??= leg.backend;
    return true;
  }

  /** A try failed during the race: true while the rival still waits (wait for it), false when nothing is left. */
  failed(leg: HedgeLeg): boolean {
    if (this.rivalOf(leg) !== undefined) return true;
    this.winner ??= 'none';
    return false;
  }

  /** The client went away: stops the copy too (the exchange stops its own try). */
  abort(err: Error): void {
    this.disarm();
    this.legacy?.abort(err);
  }

  /** For the access log and metrics: undefined when no copy was sent. */
  get outcome(): HedgeWinner | undefined {
    return this.sent ? (this.winner ?? 'none') : undefined;
  }

  private rivalOf(leg: HedgeLeg): HedgeLeg | undefined {
    const rival = leg === this.legacy ? this.modern : this.legacy;
    return rival?.waiting === true ? rival : undefined;
  }
}

/**
 * Takes a slot in legacy's bulkhead and a retry from its retry budget for a hedge: a hedge is
 * extra load on legacy exactly like a retry, so it is bounded the same way. false, holding
 * nothing, when either refuses: a full bulkhead means no hedge (never a queue), and a refusal of
 * the budget counts in `strangler_retry_budget_refusals_total{backend="legacy"}`.
 */
export function admitHedge(legacy: Upstream): boolean {
  if (!legacy.bulkhead.tryEnter()) return false;
  if (legacy.budget.tryRetry()) return true;
  legacy.bulkhead.leave();
  return false;
}
