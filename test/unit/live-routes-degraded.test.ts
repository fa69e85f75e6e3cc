import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveBackends } from '../../src/backends/live-backends.js';
import { GatewayError } from '../../src/errors.js';
import { LiveRoutes } from '../../src/routing/live-routes.js';
import { RouteStore } from '../../src/routing/store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';

/**
 * The live table while its store cannot be reached (PostgreSQL down): it keeps the table it has,
 * says so once rather than on every poll, and catches up from the feed once the store answers.
 * A SQLite store stands in, with every read failing while `down` is set.
 */
const clock = { now: () => Date.now() };
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function flakyStore(inner: SqliteStore): Store & { down: boolean } {
  const state = { down: false };
  const unavailable = () => Promise.reject(new GatewayError('STORE_UNAVAILABLE'));
  const reads = new Set(['changeStamp', 'feedPosition', 'routeChanges', 'liveRoutes', 'liveRoutesPage', 'list']);
  const backends = new Proxy(inner.backends, { get: (target, key: string) => (state.down && key === 'list' ? unavailable : Reflect.get(target, key)) });
  return new Proxy(inner, {
    get(target, key: string) {
      if (key === 'down') return state.down;
      if (key === 'backends') return backends;
      if (state.down && reads.has(key)) return unavailable;
      const value = Reflect.get(target, key);
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(_target, key, value: boolean) {
      if (key !== 'down') return false;
      state.down = value;
      return true;
    },
  }) as unknown as Store & { down: boolean };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('LiveRoutes with a store that cannot be reached', () => {
  it('keeps its table, logs the outage once, and catches up when the store is back', async () => {
    const sync = RouteStore.open(':memory:', { clock });
    const store = flakyStore(new SqliteStore(sync));
    sync.backends.ensureDefaults({ legacy: { url: 'http://127.0.0.1:1' }, modern: { url: 'http://127.0.0.1:2' } }, { actor: 't' });
    sync.create({ id: 'orders', pathPrefix: '/orders' }, { actor: 't' });
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(JSON.parse(line).msg as string) });
    const backends = new LiveBackends(clock, logger);
    const live = await LiveRoutes.start(store, backends, logger, 10);
    cleanups.push(() => {
      live.stop();
      sync.close();
      void backends.destroy();
    });
    expect(live.current.get('orders')?.mode).toBe('legacy');

    store.down = true;
    // A change lands (another gateway's, say) while this one cannot read: its notification finds nothing.
    sync.update('orders', { mode: 'modern' }, { actor: 'elsewhere' });
    await new Promise((r) => setTimeout(r, 100));
    expect(live.current.get('orders')?.mode).toBe('legacy');
    expect(live.ready).toBe(true);
    expect(lines.filter((l) => l.startsWith('polling the route database failed'))).toHaveLength(1);

    store.down = false;
    await until(() => live.current.get('orders')?.mode === 'modern');
    expect(live.feedPosition.routes).toBe(sync.feedPosition().routes);
  });
});
