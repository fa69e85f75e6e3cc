import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { LiveBackends } from '../backends/live-backends.js';
import { poolSettings, type Upstream } from '../backends/upstream.js';
import type { Clock, Random } from '../clock.js';
import type { ResponseTap } from '../proxy/attempt.js';
import { upstreamHost } from '../proxy/headers.js';
import { DEADLINE_HEADER } from '../resilience/deadline.js';
import type { Route } from '../routing/schema.js';
import { ownBytes, type CopyCall, type CopyResult, type CopyTarget } from './copy-protocol.js';
import { CopyThread } from './copy-thread.js';
import { LegacyTap } from './legacy-tap.js';
import { NoiseLearner } from './noise.js';
import { shadowReport, type ShadowReport } from './report.js';
import { decideCopy, type CopyDecision, type SkipReason } from './sampling.js';
import type { ShadowStore } from './shadow-store.js';
import { emptyCounts, isEmpty, mergeCounts, record, recordSkip, samplePath, type Comparison, type ShadowCounts } from './tally.js';

/** The header every copy carries, so a backend can tell a copy from a client's request. */
export const SHADOW_HEADER = 'x-strangler-shadow';
/** How often counts and samples are written to the store. */
export const FLUSH_MS = 1_000;

export type ComparisonResult = 'match' | 'mismatch' | 'error' | 'skipped';

/** What the data plane asks of shadow mode (proxy/proxy.ts), for requests of routes in mode `shadow`. */
export interface ShadowCopier {
  /** Whether to copy this request; counts a skip. Decided before the body is read (a copied body is buffered). */
  decide(req: IncomingMessage, route: Route): CopyDecision;
  /** Sends the copies of a request `decide` admitted; returns the tap for legacy's answer, or undefined when skipped. */
  begin(req: IncomingMessage, route: Route, decision: CopyDecision & { copy: true }, target: string, body: Buffer | null, headers: readonly string[]): ResponseTap | undefined;
}

export interface ShadowingOptions {
  backends: Pick<LiveBackends, 'forSide'>;
  store: ShadowStore;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Whether a route still exists: state of deleted routes is dropped at the next flush. */
  exists: (routeId: string) => boolean;
}

/** One object per live backend: the copy thread is told a target once (see CopyThread). */
const copyTargets = new WeakMap<Upstream, CopyTarget>();

function copyTarget(upstream: Upstream): CopyTarget {
  let target = copyTargets.get(upstream);
  if (target === undefined) copyTargets.set(upstream, (target = { origin: upstream.origin, pool: poolSettings(upstream.backend) }));
  return target;
}

/** A copy of the client's request for `upstream`, marked as a copy and bounded by the route's timeout. */
function copyCall(upstream: Upstream, req: IncomingMessage, route: Route, target: string, body: Buffer | null, headers: readonly string[]): CopyCall {
  return {
    target: copyTarget(upstream),
    request: {
      path: upstream.basePath + target,
      method: req.method!,
      headers: [...headers, SHADOW_HEADER, '1', DEADLINE_HEADER, String(route.timeoutMs), 'host', upstreamHost(upstream, req.headers.host)],
      body: body && ownBytes(body),
    },
  };
}

/** One route's shadow state in this process. */
class RouteShadow {
  inFlight = 0;
  /** Counted since the last flush. */
  pending: ShadowCounts = emptyCounts();
  readonly noise = new NoiseLearner();
  /** Since start-up, for the metrics. */
  readonly totals: Record<ComparisonResult, number> = { match: 0, mismatch: 0, error: 0, skipped: 0 };
}

/**
 * Shadow mode's engine: admits requests and takes their slots, hands the copies (to the route's
 * modern backend and, for noise samples, legacy again) and legacy's answer to the copy thread,
 * which sends and compares; counts what it hands back in memory (noise learnt here, so learnt and
 * adopted fields meet); `flush` writes them to the store in one batch, off the request path.
 */
/** What the main thread keeps of legacy's answer once it has handed it to the copy thread. */
type LegacySummary = { status: number; ms: number };

export class Shadowing implements ShadowCopier {
  private readonly routes = new Map<string, RouteShadow>();
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly thread: CopyThread;

  constructor(private readonly options: ShadowingOptions) {
    this.thread = new CopyThread(options.logger);
  }

  decide(req: IncomingMessage, route: Route): CopyDecision {
    const length = req.headers['content-length'];
    const chunked = length === undefined && req.headers['transfer-encoding'] !== undefined;
    const decision = decideCopy(
      {
        method: req.method!,
        hasIdempotencyKey: req.headers['idempotency-key'] !== undefined,
        bodyBytes: chunked ? 'unknown' : length === undefined ? null : Number(length),
      },
      route.shadow,
      this.options.random,
    );
    if (!decision.copy) this.skip(route.id, decision.reason);
    return decision;
  }

  begin(req: IncomingMessage, route: Route, decision: CopyDecision & { copy: true }, target: string, body: Buffer | null, headers: readonly string[]): ResponseTap | undefined {
    const state = this.state(route.id);
    const modern = this.options.backends.forSide(route, 'modern');
    if (modern === undefined || state.inFlight >= route.shadow.maxInFlight || !modern.bulkhead.tryEnter()) {
      this.skip(route.id, 'bulkheadFull');
      return undefined;
    }
    state.inFlight++;
    const candidate = decision.noise ? this.options.backends.forSide(route, 'legacy') : undefined;
    // A noise sample never takes legacy's last slots from clients: it needs a free one.
    const legacy = candidate !== undefined && candidate.bulkhead.tryEnter() ? candidate : undefined;
    // Built now: the exchange goes on to add its own headers to `headers`.
    const copy = (upstream: Upstream) => copyCall(upstream, req, route, target, body, headers);
    const tap = new LegacyTap(this.options.clock);
    this.follow(route, state, { method: req.method!, path: samplePath(target) }, tap, [modern, legacy], copy(modern), legacy && copy(legacy));
    return tap;
  }

  /**
   * Hands one request's copies and legacy's answer to the copy thread and settles the result.
   * Apart from `begin` so that what its callbacks keep alive until the copies end is only this
   * (not the client's request, headers and body: a closure keeps its whole scope).
   */
  private follow(route: Route, state: RouteShadow, request: { method: string; path: string }, tap: LegacyTap, slots: [Upstream, Upstream | undefined], modern: CopyCall, again: CopyCall | undefined): void {
    // The slots are held until the copy thread reports the copies ended (or the result, if legacy's answer came first).
    let held = true;
    // Legacy's answer goes to the copy thread; this side keeps only its status and time, so the
    // answer's bytes are garbage once handed over, however long the copy thread takes. (A `then`
    // callback runs after this function returns, so `id` is set by then.)
    let id = 0;
    const legacyAnswered = tap.outcome.then((first) => {
      this.thread.answer(id, 'answer' in first ? first.answer : undefined, route.shadow);
      return 'answer' in first ? { status: first.answer.status, ms: first.ms } : undefined;
    });
    id = this.thread.copy(route.timeoutMs, modern, again, (result) => {
      if (held) {
        held = false;
        state.inFlight--;
        for (const upstream of slots) upstream?.bulkhead.leave();
      }
      if (result.outcome !== 'ended') void legacyAnswered.then((summary) => this.settle(route, state, request, summary, result));
    });
  }

  private settle(route: Route, state: RouteShadow, request: { method: string; path: string }, legacy: LegacySummary | undefined, result: Exclude<CopyResult, { outcome: 'ended' }>): void {
    // Nothing to compare with when legacy's answer did not reach the client whole, or at shutdown.
    if (this.closed || legacy === undefined || result.outcome === 'abandoned') return;
    const at = new Date(this.options.clock.now()).toISOString();
    let comparison: Comparison;
    if (result.outcome === 'error') comparison = { result: 'error', at, legacyMs: legacy.ms };
    else {
      if (result.betweenLegacy !== undefined) state.noise.learn(result.betweenLegacy);
      const differences = result.differences.filter((d) => !state.noise.isNoise(d));
      const times = { at, legacyMs: legacy.ms, modernMs: result.modernMs };
      comparison =
        differences.length === 0
          ? { result: 'match', ...times }
          : { result: 'mismatch', ...times, sample: { at, ...request, legacyStatus: legacy.status, modernStatus: result.modernStatus, differences } };
    }
    record(state.pending, comparison);
    state.totals[comparison.result]++;
  }

  private skip(routeId: string, reason: SkipReason): void {
    const state = this.state(routeId);
    recordSkip(state.pending, reason);
    state.totals.skipped++;
  }

  private state(routeId: string): RouteShadow {
    let state = this.routes.get(routeId);
    if (state === undefined) this.routes.set(routeId, (state = new RouteShadow()));
    return state;
  }

  /** Writes what was counted since the last flush, one batch for all routes; one flush at a time. */
  flush(): Promise<void> {
    return (this.flushing = this.flushing.then(() => this.write()));
  }

  private async write(): Promise<void> {
    const deltas = new Map<string, ShadowCounts>();
    for (const [routeId, state] of this.routes) {
      if (!this.options.exists(routeId)) {
        if (state.inFlight === 0) this.routes.delete(routeId);
        continue;
      }
      const delta = { ...state.pending, noise: state.noise.list() };
      state.pending = emptyCounts();
      if (!isEmpty(delta)) deltas.set(routeId, delta);
    }
    if (deltas.size === 0) return;
    try {
      const noise = await this.options.store.flush(deltas);
      for (const [routeId, fields] of noise) this.routes.get(routeId)?.noise.adopt(fields);
    } catch (err) {
      // Kept for the next flush (a busy database, most likely): counts are never lost to a retryable write.
      this.options.logger.warn({ err, routes: deltas.size }, 'writing shadow results failed; retrying with the next flush');
      for (const [routeId, delta] of deltas) {
        const state = this.routes.get(routeId);
        if (state !== undefined) state.pending = mergeCounts(delta, state.pending);
      }
    }
  }

  /** What comparisons found on a route, across every gateway on the store (this one's latest counts flushed first). */
  async report(route: Route): Promise<ShadowReport> {
    await this.flush();
    return shadowReport(route.id, route.mode, await this.options.store.read(route.id));
  }

  /** Each route's match rate and compared count, for /status. */
  async summaries(routeIds: readonly string[]) {
    await this.flush();
    return this.options.store.summaries(routeIds);
  }

  /** Forgets a route's counts and samples, here and in the store. */
  async clear(routeId: string): Promise<void> {
    await this.flush();
    const state = this.routes.get(routeId);
    if (state !== undefined) state.pending = emptyCounts();
    await this.options.store.clear(routeId, new Date(this.options.clock.now()).toISOString());
  }

  /** Comparisons since start-up, per route, for `strangler_shadow_comparisons_total`. */
  *comparisonTotals(): IterableIterator<[string, Readonly<Record<ComparisonResult, number>>]> {
    for (const [routeId, state] of this.routes) yield [routeId, state.totals];
  }

  /** Noise fields learnt per route, for `strangler_shadow_noise_fields`. */
  *noiseFieldCounts(): IterableIterator<[string, number]> {
    for (const [routeId, state] of this.routes) if (state.noise.size > 0) yield [routeId, state.noise.size];
  }

  /** Stops counting (copies aborted by the shutdown are nobody's fault) and writes what is left. */
  async close(): Promise<void> {
    this.closed = true;
    await this.thread.close();
    await this.flush();
  }
}
