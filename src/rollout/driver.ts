import type { Clock } from '../clock.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Logger } from 'pino';
import type { RouteChanges } from '../routing/store.js';
import type { Store } from '../store/store.js';
import { abortRollout, pauseRollout, resumeRollout, startRollout, tick, type Move, type RolloutState } from './controller.js';
import { RolloutPlan } from './plan.js';
import type { StepCounter } from './step-counter.js';
import { figuresOf } from './step-window.js';
import type { RolloutView } from './view.js';

export type { RolloutView };

export const ROLLOUT_ACTOR = 'rollout';

interface Entry {
  state: RolloutState;
  timer: NodeJS.Timeout | undefined;
  busy: Promise<void>;
  /** The route's version after the rollout's last move: a move expects it, so a change someone else made meanwhile is never overwritten. */
  version: number;
  /** The window as it was when the rollout ended: what its last verdict read. */
  final?: RolloutView['window'];
}

export interface DriverOptions {
  store: Store;
  counter: StepCounter;
  clock: Clock;
  logger: Logger;
  /** Shadow comparisons of a route, for a start from `shadow`. */
  shadowSummary: (routeId: string) => Promise<{ compared: number; matched: number } | undefined>;
}

/**
 * Drives each route's rollout inside this gateway: every `checkMs` it reads the current step's
 * counts and calls the pure controller's `tick`; each move it answers is a route change with its
 * history row (actor `rollout`, the figures in the reason). Moves are serialised per route.
 */
export class RolloutDriver {
  private readonly rollouts = new Map<string, Entry>();

  constructor(private readonly options: DriverOptions, private readonly leader: string) {}

  async start(routeId: string, planInput: unknown, force: boolean, who: string): Promise<RolloutView> {
    const { store, clock, shadowSummary } = this.options;
    const current = this.rollouts.get(routeId);
    if (current !== undefined && (current.state.status === 'running' || current.state.status === 'paused')) {
      throw new GatewayError('ROLLOUT_RUNNING', `a rollout is already ${current.state.status} on route "${routeId}"; abort it first`);
    }
    const route = await store.get(routeId);
    if (route === undefined) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${routeId}"`);
    const plan = RolloutPlan.parse(planInput ?? route.rollout ?? {});
    const shadow = await shadowSummary(routeId);
    const matchRate = shadow === undefined || shadow.compared === 0 ? null : shadow.matched / shadow.compared;
    const started = startRollout(plan, { stage: route.stage, shadow: shadow === undefined ? null : { matchRate, compared: shadow.compared }, force }, clock.now());
    if ('refusal' in started) throw new GatewayError(started.refusal.code, started.refusal.message);
    const entry: Entry = { state: started.state, timer: undefined, busy: Promise.resolve(), version: route.version };
    this.rollouts.set(routeId, entry);
    await this.move(routeId, started.move, `${started.move.reason} (by ${who})`);
    entry.timer = setInterval(() => void this.check(routeId), plan.checkMs);
    entry.timer.unref();
    return this.view(routeId);
  }

  view(routeId: string): RolloutView {
    const entry = this.entry(routeId);
    return { routeId, ...entry.state, window: entry.final ?? this.window(routeId), leader: this.leader };
  }

  pause(routeId: string): RolloutView {
    return this.change(routeId, pauseRollout(this.entry(routeId).state, this.options.clock.now()));
  }

  resume(routeId: string): RolloutView {
    return this.change(routeId, resumeRollout(this.entry(routeId).state, this.options.clock.now()));
  }

  async abort(routeId: string, who: string): Promise<RolloutView> {
    const entry = this.entry(routeId);
    await entry.busy;
    const aborted = abortRollout(entry.state, who);
    if ('refusal' in aborted) throw new GatewayError(aborted.refusal.code, aborted.refusal.message);
    entry.state = aborted.state;
    // An abort returns the route to legacy whatever changed meanwhile: it is the way out.
    await this.move(routeId, aborted.move, aborted.move.reason, false);
    return this.view(routeId);
  }

  stop(): void {
    for (const { timer } of this.rollouts.values()) clearInterval(timer);
  }

  private window(routeId: string): RolloutView['window'] {
    const counts = this.options.counter.read(routeId);
    return { modern: figuresOf(counts.modern), legacy: figuresOf(counts.legacy) };
  }

  private change(routeId: string, result: ReturnType<typeof pauseRollout>): RolloutView {
    if ('refusal' in result) throw new GatewayError(result.refusal.code, result.refusal.message);
    this.entry(routeId).state = result.state;
    return this.view(routeId);
  }

  private entry(routeId: string) {
    const entry = this.rollouts.get(routeId);
    if (entry === undefined) throw new GatewayError('ROLLOUT_NOT_RUNNING', `no rollout on route "${routeId}" since this gateway started`);
    return entry;
  }

  /** One check, after any move still being written. */
  private check(routeId: string): Promise<void> {
    const entry = this.rollouts.get(routeId)!;
    entry.busy = entry.busy.then(async () => {
      if (entry.state.status !== 'running') return;
      // A change someone else made (a flip, a PATCH, a delete) ends the rollout before it judges anything.
      const route = await this.options.store.get(routeId);
      if (route?.version !== entry.version) return this.stopChangedElsewhere(routeId);
      const result = tick(entry.state, this.window(routeId), this.options.clock.now());
      entry.state = result.state;
      if (result.move !== undefined) await this.move(routeId, result.move, result.move.reason);
    }).catch((err: unknown) => this.options.logger.error({ err, route: routeId }, 'rollout check failed; retrying at the next check'));
    return entry.busy;
  }

  /** A move as a route change: the stage and canary share, one history row by `rollout`. */
  private async move(routeId: string, move: Move, reason: string, guarded = true): Promise<void> {
    const entry = this.rollouts.get(routeId)!;
    const changes: RouteChanges = { stage: move.stage, canaryPercent: move.stage === 'canary' ? move.percent : 0 };
    const meta = { actor: ROLLOUT_ACTOR, reason, ...(guarded && { expectedVersion: entry.version }) };
    try {
      entry.version = (await this.options.store.update(routeId, changes, meta, 'rollout')).version;
    } catch (err) {
      // Someone changed the route (a flip to legacy at 3 a.m., say) or deleted it: theirs stands.
      if (guarded && isGatewayError(err) && (err.code === 'VERSION_CONFLICT' || err.code === 'ROUTE_NOT_FOUND')) return this.stopChangedElsewhere(routeId);
      throw err;
    }
    this.options.logger.info({ route: routeId, move: move.kind, stage: move.stage, percent: move.percent, reason }, 'rollout moved the route');
    if (entry.state.status === 'running' || entry.state.status === 'paused') return this.options.counter.watch(routeId);
    this.end(entry, routeId);
  }

  private end(entry: Entry, routeId: string): void {
    clearInterval(entry.timer);
    entry.final = this.window(routeId);
    this.options.counter.unwatch(routeId);
  }

  /** The route changed under the rollout: it stops, and leaves the route as the other change set it. */
  private stopChangedElsewhere(routeId: string): void {
    const entry = this.rollouts.get(routeId)!;
    const reason = `the route was changed by someone else during the rollout (after version ${entry.version}): the rollout stopped and left the route as they set it`;
    entry.state = { ...entry.state, status: 'aborted', verdict: { kind: 'fail', reason, at: this.options.clock.now() } };
    this.options.logger.warn({ route: routeId, version: entry.version }, 'rollout stopped: the route was changed by someone else');
    this.end(entry, routeId);
  }
}
