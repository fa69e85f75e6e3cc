import type { Clock } from '../clock.js';
import type { TrafficSample } from '../observe/traffic-window.js';
import type { RolloutStore } from './rollout-store.js';

/** How often each gateway writes the routes that fell back since its last write. */
export const FALLBACK_FLUSH_MS = 5_000;

/**
 * When each route last had a request that legacy served in modern's stead (a fallback, a
 * fall-through, a hedge legacy won), over every gateway on the database and across restarts:
 * the retire rule needs a day without one. The request path only sets a number in a map; the
 * store sees a batch every FALLBACK_FLUSH_MS, so a gateway killed loses at most that much.
 */
export class FallbackLedger {
  private readonly latest = new Map<string, number>();
  private pending = new Map<string, number>();

  constructor(private readonly store: Pick<RolloutStore, 'noteFallbacks' | 'lastFallbackAt'>, private readonly clock: Clock) {}

  record(sample: TrafficSample): void {
    if (sample.fallback === undefined) return;
    const now = this.clock.now();
    this.latest.set(sample.routeId, now);
    this.pending.set(sample.routeId, now);
  }

  /** Writes the batch; on failure keeps it for the next flush. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await this.store.noteFallbacks(batch);
    } catch (err) {
      for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      throw err;
    }
  }

  /** The route's latest fallback on any gateway (this one's unflushed ones included); null for none. */
  async lastAt(routeId: string): Promise<number | null> {
    const stored = await this.store.lastFallbackAt(routeId);
    const mine = this.latest.get(routeId) ?? null;
    return stored === null ? mine : mine === null ? stored : Math.max(stored, mine);
  }
}
