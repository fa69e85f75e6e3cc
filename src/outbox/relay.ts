import type { Logger } from 'pino';
import { request } from 'undici';
import type { Clock, Random } from '../clock.js';
import { isSqliteBusy } from '../store/sqlite-no-wait.js';
import type { Claimed, OutboxStore } from './outbox-store.js';
import { resultOfStatus, settle, type PostResult, type RelayPolicy, type Settlement } from './retry-schedule.js';

/** Posts one event to one URL; resolves to what the attempt came to, never rejects. */
export type Poster = (url: string, body: string, idempotencyKey: string, signal: AbortSignal) => Promise<PostResult>;

export interface RelayOptions {
  outbox: OutboxStore;
  /** Wakes the relay after a committed change (store.onChange). */
  onChange: (listener: () => void) => () => void;
  clock: Clock;
  random: Random;
  logger: Logger;
  policy: RelayPolicy;
  /** Who claims: `host:pid`, so a restarted gateway can tell its dead predecessor's claims from a live peer's. */
  owner: string;
  /** Whether a process of this host runs (default: signal 0). */
  isAlive?: (pid: number) => boolean;
  post?: Poster;
  /** Called with each attempt's result, for the metrics. */
  attempted?: (result: 'delivered' | 'failed') => void;
}

/**
 * Delivers the outbox's events to the webhooks, at least once each: it claims what is due, posts
 * it (Idempotency-Key: the event id), and records the outcome; a failure is due again after a
 * backoff (retry-schedule.ts) and is retried for as long as it takes. It runs beside the data
 * plane, never on a request's path: wakes on each committed change, polls as a safety net, and
 * at start picks up whatever a previous process left undelivered.
 */
export class Relay {
  private readonly inFlight = new Set<AbortController>();
  /** Outcomes the database could not take when they came (busy): written at the next pass. */
  private readonly unsettled: { claimed: Claimed; outcome: Settlement }[] = [];
  private readonly post: Poster;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private released = false;
  /** Whether the last pass failed: an outage is logged once when it starts and once when it ends, not every poll. */
  private failing = false;

  constructor(private readonly options: RelayOptions) {
    this.post = options.post ?? postJson;
  }

  start(): void {
    this.unsubscribe = this.options.onChange(() => this.wake());
    this.timer = setInterval(() => this.wake(), this.options.policy.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Runs a pass soon (never inside the caller's stack); a wake during a pass runs another after it. */
  wake(): void {
    if (this.closed) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.releaseStale())
      .then(() => this.drain())
      .then(() => this.passed(), (err: unknown) => this.failed(err))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** Stops the timers, aborts the posts in flight and hands their claims back, so whoever runs next retries them at once. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    const aborted = this.inFlight.size > 0;
    for (const controller of this.inFlight) controller.abort();
    await this.running;
    if (aborted) await this.options.outbox.release(this.options.owner, this.options.clock.now()).catch(() => undefined);
  }

  private passed(): void {
    if (this.failing) this.options.logger.info('outbox relay passes work again');
    this.failing = false;
  }

  private failed(err: unknown): void {
    const log = { err: (err as Error).message };
    // Another writer holding SQLite's lock is no outage: the next poll goes on.
    if (isSqliteBusy(err)) return this.options.logger.debug(log, 'outbox relay pass put off: the database is busy');
    if (this.failing) this.options.logger.debug(log, 'outbox relay pass failed again');
    else this.options.logger.warn(log, 'outbox relay pass failed; retrying at every poll');
    this.failing = true;
  }

  /** Writes an attempt's outcome; one the database is too busy to take now waits for the next pass. */
  private async record(claimed: Claimed, outcome: Settlement): Promise<void> {
    try {
      await this.options.outbox.settle(claimed.event.id, claimed.url, outcome);
    } catch (err) {
      if (!isSqliteBusy(err)) throw err;
      this.unsettled.push({ claimed, outcome });
    }
  }

  /** Once, before the first pass: claims a killed process of this host left are due again at once, not after their lease. */
  private async releaseStale(): Promise<void> {
    if (this.released) return;
    const { outbox, owner, clock } = this.options;
    for (const stale of staleClaimants(await outbox.claimants(), owner, this.options.isAlive ?? isAlive)) await outbox.release(stale, clock.now());
    this.released = true;
  }

  /** Claims and delivers batches until nothing is due. */
  private async drain(): Promise<void> {
    const { outbox, clock, policy } = this.options;
    for (const { claimed, outcome } of this.unsettled.splice(0)) await this.record(claimed, outcome);
    while (!this.closed) {
      const now = clock.now();
      const claimed = await outbox.claim(now, now + policy.leaseMs, policy.batch, this.options.owner);
      if (claimed.length === 0) return;
      await Promise.all(claimed.map((c) => this.deliver(c)));
      if (claimed.length < policy.batch) return;
    }
  }

  private async deliver(claimed: Claimed): Promise<void> {
    const { clock, random, policy, logger } = this.options;
    const controller = new AbortController();
    const timeout = setTimeout(() => controller.abort(), policy.timeoutMs);
    this.inFlight.add(controller);
    let result: PostResult;
    try {
      result = await this.post(claimed.url, JSON.stringify({ text: claimed.event.text, event: claimed.event }), claimed.event.id, controller.signal);
    } finally {
      clearTimeout(timeout);
      this.inFlight.delete(controller);
    }
    // Closing aborted it: no attempt is counted, and close() hands the claim back.
    if (this.closed) return;
    const outcome = settle(result, claimed.attempts, clock.now(), policy, random);
    await this.record(claimed, outcome);
    this.options.attempted?.(outcome.delivered ? 'delivered' : 'failed');
    // The URL's origin only: a webhook's path often is its secret (Slack's are).
    const log = { event: claimed.event.id, route: claimed.event.routeId, to: new URL(claimed.url).origin, attempts: outcome.attempts };
    if (outcome.delivered) logger.debug(log, 'event delivered');
    else logger.warn({ ...log, error: outcome.error, nextAttemptAt: new Date(outcome.nextAttemptAt).toISOString() }, 'event delivery failed; will retry');
  }
}

/**
 * The claimants whose claims a relay starting as `self` may release: processes of its host that no
 * longer run, and `self` itself (a predecessor with the same pid: a container restarted as pid 1).
 * Other hosts' claims are left to lapse: their processes cannot be seen from here.
 */
export function staleClaimants(claimants: readonly string[], self: string, alive: (pid: number) => boolean): string[] {
  const host = hostOf(self);
  return claimants.filter((c) => c === self || (hostOf(c) === host && !alive(Number(c.slice(c.lastIndexOf(':') + 1)))));
}

function hostOf(owner: string): string {
  return owner.slice(0, owner.lastIndexOf(':'));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A JSON POST with the idempotency key; a 2xx is delivered, anything else (or no answer) is not. */
export const postJson: Poster = async (url, body, idempotencyKey, signal) => {
  try {
    const res = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey, 'user-agent': 'strangler-gateway' },
      body,
      signal,
    });
    // The answer's body is not needed, but is consumed so the connection can be reused.
    await res.body.dump();
    return resultOfStatus(res.statusCode);
  } catch (err) {
    return { ok: false, error: signal.aborted ? 'no answer within the timeout' : ((err as { code?: string }).code ?? (err as Error).message) };
  }
};
