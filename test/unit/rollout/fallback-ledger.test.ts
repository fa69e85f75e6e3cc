import { describe, expect, it } from 'vitest';
import type { TrafficSample } from '../../../src/observe/traffic-window.js';
import { FallbackLedger } from '../../../src/rollout/fallback-ledger.js';

/** A store holding the latest time per route, as both engines do; `down` makes writes fail. */
function fakeStore() {
  const rows = new Map<string, number>();
  const store = {
    down: false,
    async noteFallbacks(latest: ReadonlyMap<string, number>) {
      if (store.down) throw new Error('database gone');
      for (const [id, at] of latest) rows.set(id, Math.max(rows.get(id) ?? 0, at));
    },
    async lastFallbackAt(id: string) {
      return rows.get(id) ?? null;
    },
  };
  return { store, rows };
}

const sample = (routeId: string, fallback?: string) => ({ routeId, fallback }) as unknown as TrafficSample;

describe('the fallback ledger', () => {
  it('remembers each route\'s latest fallback, writes them in batches, and keeps a batch the store refused', async () => {
    let t = 1_000;
    const { store, rows } = fakeStore();
    const ledger = new FallbackLedger(store, { now: () => t });
    ledger.record(sample('orders'));
    ledger.record(sample('orders', 'modern-5xx'));
    t = 2_000;
    ledger.record(sample('users', 'fallthrough-404'));
    expect(await ledger.lastAt('orders')).toBe(1_000);
    expect(rows.size).toBe(0);

    store.down = true;
    await expect(ledger.flush()).rejects.toThrow('database gone');
    store.down = false;
    await ledger.flush();
    expect([...rows]).toEqual([['orders', 1_000], ['users', 2_000]]);

    // Another gateway's later fallback wins; so does this one's unflushed one.
    rows.set('orders', 5_000);
    expect(await ledger.lastAt('orders')).toBe(5_000);
    t = 9_000;
    ledger.record(sample('orders', 'hedge'));
    expect(await ledger.lastAt('orders')).toBe(9_000);
    expect(await ledger.lastAt('stock')).toBeNull();
  });
});
