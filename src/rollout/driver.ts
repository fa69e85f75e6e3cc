import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Route } from '../routing/schema.js';
import type { Store } from '../store/store.js';
import { abortRollout, pauseRollout, resumeRollout, startRollout, tick, type Move, type Refusal, type RolloutState } from './controller.js';
import { checkDue, leaseMs, pollMs, publishDue, shouldClaim } from './lease.js';
import { RolloutPlan } from './plan.js';
import { ACTIVE, rolloutChanged, rolloutRunning, type RolloutRecord } from './rollout-store.js';
import type { StepCounter } from './step-counter.js';
import { figuresOf, mergeCounts, type StepCounts } from './step-window.js';
import type { RolloutView } from './view.js';

export type { RolloutView };

export const ROLLOUT_ACTOR = 'rollout';
/** Attempts of a pause, resume or abort that races another writer of the same rollout. */
const ATTEMPTS = 5;

export interface DriverOptions {
  store: Store;
  counter: StepCounter;
  clock: Clock;
  logger: Logger;
  /** Shadow comparisons of a route, for a start from `shadow`. */
  shadowSummary: (routeId: string) => Promise<{ compared: number; matched: number } | undefined>;
}

/**
 * Rollouts shared by every gateway on one database (rollout/lease.ts says when who does what).
 * The state lives in the store; each gateway counts the current step of every running rollout
 * and publishes its counts; the one holding the lease merges them and calls the pure
 * controller's `tick` every `checkMs`. A move is a route change with its history row (actor
 * `rollout`, the figures in the reason) written in one transaction with the rollout's state, on
 * the revision it read: a step is never taken twice, whichever gateway tries.
 */
export class RolloutDriver {
  /** The step (a route version) this gateway counts for each rollout it has seen running. */
  private readonly counting = new Map<string, number>();
  private readonly publishedAt = new Map<string, number>();
  private readonly checkedAt = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private looking = false;
  private stopped = false;

  constructor(private readonly options: DriverOptions, readonly gateway: string) {
    this.schedule(0);
  }

  async start(routeId: string, planInput: unknown, force: boolean, who: string): Promise<RolloutView> {
    const { store, clock, shadowSummary } = this.options;
    const route = await this.route(routeId);
    const current = await store.rollouts.get(routeId);
    if (current !== undefined && isActive(current.state)) throw rolloutRunning(routeId);
    const plan = RolloutPlan.parse(planInput ?? route.rollout ?? {});
    const shadow = await shadowSummary(routeId);
    const matchRate = shadow === undefined || shadow.compared === 0 ? null : shadow.matched / shadow.compared;
    const now = clock.now();
    const started = startRollout(plan, { stage: route.stage, shadow: shadow === undefined ? null : { matchRate, compared: shadow.compared }, force }, now);
    if ('refusal' in started) throw new GatewayError(started.refusal.code, started.refusal.message);
    const record: RolloutRecord = { routeId, state: started.state, version: route.version, final: null, revision: 0, leader: this.gateway, leaseUntil: now + leaseMs(plan) };
    const after = await this.write(record, null, started.move, `${started.move.reason} (by ${who})`, route.version);
    this.countFrom(routeId, after.version);
    this.checkedAt.set(routeId, now);
    this.schedule(pollMs([plan]));
    return this.view(routeId);
  }

  async view(routeId: string): Promise<RolloutView> {
    const record = await this.record(routeId);
    return { routeId, ...record.state, window: record.final ?? figures(await this.window(record)), leader: record.leader ?? '', leaseUntil: record.leaseUntil };
  }

  pause = (routeId: string) => this.change(routeId, (state) => pauseRollout(state, this.options.clock.now()));
  resume = (routeId: string) => this.change(routeId, (state) => resumeRollout(state, this.options.clock.now()));

  async abort(routeId: string, who: string): Promise<RolloutView> {
    for (let attempt = 1; ; attempt++) {
      const record = await this.record(routeId);
      const aborted = abortRollout(record.state, who);
      if ('refusal' in aborted) throw new GatewayError(aborted.refusal.code, aborted.refusal.message);
      const final = figures(await this.window(record));
      try {
        // An abort returns the route to legacy whatever changed meanwhile: it is the way out.
        await this.write({ ...record, state: aborted.state, final }, record.revision, aborted.move, aborted.move.reason, undefined);
        this.forget(routeId);
        return await this.view(routeId);
      } catch (err) {
        if (attempt === ATTEMPTS || !isGatewayError(err) || err.code !== 'VERSION_CONFLICT') throw err;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** A pause or resume: the state alone, on the revision it read (again if another write came first). */
  private async change(routeId: string, fn: (state: RolloutState) => { state: RolloutState } | { refusal: Refusal }) {
    for (let attempt = 1; ; attempt++) {
      const record = await this.record(routeId);
      const result = fn(record.state);
      if ('refusal' in result) throw new GatewayError(result.refusal.code, result.refusal.message);
      if (await this.options.store.rollouts.save({ ...record, state: result.state })) return this.view(routeId);
      if (attempt === ATTEMPTS) throw rolloutChanged(routeId);
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.look(), ms);
    this.timer.unref();
  }

  /** One look at every running rollout; the next comes sooner the shorter their checks. */
  private async look(): Promise<void> {
    if (this.looking) return;
    this.looking = true;
    let plans: RolloutPlan[] = [];
    try {
      const active = await this.options.store.rollouts.active();
      plans = active.map((r) => r.state.plan);
      const ids = new Set(active.map((r) => r.routeId));
      for (const id of this.counting.keys()) if (!ids.has(id)) this.forget(id);
      for (const record of active) {
        await this.lookAt(record).catch((err: unknown) => this.options.logger.error({ err, route: record.routeId }, 'rollout look failed; retrying at the next one'));
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'rollouts could not be read; retrying');
    } finally {
      this.looking = false;
      this.schedule(pollMs(plans));
    }
  }

  private async lookAt(record: RolloutRecord): Promise<void> {
    const { store, counter, clock, logger } = this.options;
    const { routeId: id, state } = record;
    const now = clock.now();
    if (this.counting.get(id) !== record.version) this.countFrom(id, record.version);
    if (publishDue(state.plan, this.publishedAt.get(id), now)) {
      await store.rollouts.publish(id, this.gateway, record.version, counter.read(id), now);
      this.publishedAt.set(id, now);
    }
    if (!shouldClaim(record, this.gateway, now) || !(await store.rollouts.claim(id, this.gateway, now + leaseMs(state.plan), now))) return;
    if (record.leader !== this.gateway) {
      logger.info({ route: id, from: record.leader }, 'this gateway took over the rollout');
      this.checkedAt.delete(id);
    }
    if (state.status !== 'running' || !checkDue(state.plan, this.checkedAt.get(id), now)) return;
    this.checkedAt.set(id, now);
    await this.check({ ...record, leader: this.gateway });
  }

  /** The leader's check: the merged window, the verdict, and the move it calls for. */
  private async check(record: RolloutRecord): Promise<void> {
    const { store, clock } = this.options;
    // A change someone else made (a flip, a PATCH, a delete) ends the rollout before it judges anything.
    const route = await store.get(record.routeId);
    if (route?.version !== record.version) return this.stopChangedElsewhere(record);
    const counts = await this.window(record);
    const result = tick(record.state, figures(counts), clock.now());
    // A verdict with no move is written too, so every gateway's GET says why the rollout waits.
    if (result.move === undefined) return void (await store.rollouts.save({ ...record, state: result.state }));
    const ended = !isActive(result.state);
    try {
      const after = await this.write({ ...record, state: result.state, final: ended ? figures(counts) : null }, record.revision, result.move, result.move.reason, record.version);
      if (ended) this.forget(record.routeId);
      else this.countFrom(record.routeId, after.version);
    } catch (err) {
      if (!isGatewayError(err) || (err.code !== 'VERSION_CONFLICT' && err.code !== 'ROUTE_NOT_FOUND')) throw err;
      // The route changed and the rollout did not: someone else's change stands. Otherwise the
      // rollout was written meanwhile (a pause, an abort): the next look reads it.
      const latest = await store.rollouts.get(record.routeId);
      if (latest?.revision === record.revision) await this.stopChangedElsewhere(latest);
    }
  }

  /** A move as a route change (the stage and canary share, one history row by `rollout`) with the rollout's new state. */
  private async write(record: RolloutRecord, expectedRevision: number | null, move: Move, reason: string, expectedVersion: number | undefined): Promise<Route> {
    const changes = { stage: move.stage, canaryPercent: move.stage === 'canary' ? move.percent : 0 };
    const meta = { actor: ROLLOUT_ACTOR, reason, ...(expectedVersion !== undefined && { expectedVersion }) };
    const after = await this.options.store.update(record.routeId, changes, meta, 'rollout', { record, expectedRevision });
    this.options.logger.info({ route: record.routeId, move: move.kind, stage: move.stage, percent: move.percent, reason }, 'rollout moved the route');
    return after;
  }

  /** The route changed under the rollout: it stops, and leaves the route as the other change set it. */
  private async stopChangedElsewhere(record: RolloutRecord): Promise<void> {
    const reason = `the route was changed by someone else during the rollout (after version ${record.version}): the rollout stopped and left the route as they set it`;
    const state: RolloutState = { ...record.state, status: 'aborted', verdict: { kind: 'fail', reason, at: this.options.clock.now() } };
    if (await this.options.store.rollouts.save({ ...record, state, final: figures(await this.window(record)) })) {
      this.options.logger.warn({ route: record.routeId, version: record.version }, 'rollout stopped: the route was changed by someone else');
    }
    this.forget(record.routeId);
  }

  /** The current step's counts over every gateway: the others' as they last published them, this one's as they are. */
  private async window(record: RolloutRecord): Promise<StepCounts> {
    const published = await this.options.store.rollouts.windows(record.routeId, record.version);
    const others = published.filter((w) => w.gateway !== this.gateway).map((w) => w.counts);
    const mine = this.counting.get(record.routeId) === record.version ? [this.options.counter.read(record.routeId)] : [];
    return mergeCounts([...others, ...mine]);
  }

  private countFrom(routeId: string, step: number): void {
    this.options.counter.watch(routeId);
    this.counting.set(routeId, step);
    this.publishedAt.delete(routeId);
  }

  private forget(routeId: string): void {
    this.options.counter.unwatch(routeId);
    this.counting.delete(routeId);
    this.publishedAt.delete(routeId);
    this.checkedAt.delete(routeId);
  }

  private async route(routeId: string): Promise<Route> {
    const route = await this.options.store.get(routeId);
    if (route === undefined) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${routeId}"`);
    return route;
  }

  private async record(routeId: string): Promise<RolloutRecord> {
    const record = await this.options.store.rollouts.get(routeId);
    if (record !== undefined) return record;
    await this.route(routeId);
    throw new GatewayError('ROLLOUT_NOT_FOUND', `route "${routeId}" has never had a rollout`);
  }
}

const isActive = (state: RolloutState) => (ACTIVE as readonly string[]).includes(state.status);
const figures = (counts: StepCounts): RolloutView['window'] => ({ modern: figuresOf(counts.modern), legacy: figuresOf(counts.legacy) });
