import fc from 'fast-check';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LiveBackends } from '../../src/backends/live-backends.js';
import { RouteSpec, desiredRoute } from '../../src/routing/route-file.js';
import { LiveRoutes, SLICE } from '../../src/routing/live-routes.js';
import { RouteTable } from '../../src/routing/route-table.js';
import { RouteStore } from '../../src/routing/store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { tempDir } from '../helpers/servers.js';

/**
 * The live table follows the change feed: whatever sequence of changes the store commits, its
 * lookups must equal those of a table rebuilt from scratch. Real SQLite files; the poll is off
 * (pollMs huge) so only the store's own change notifications and explicit waits drive it.
 */
const logger = pino({ level: 'silent' });
const clock = { now: () => Date.now() };
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function open(): Promise<{ store: RouteStore; live: LiveRoutes; db: string }> {
  const temp = tempDir();
  const store = RouteStore.open(temp.db, { clock });
  store.backends.ensureDefaults({ legacy: { url: 'http://127.0.0.1:1' }, modern: { url: 'http://127.0.0.1:2' } }, { actor: 'test' });
  const backends = new LiveBackends(clock, logger);
  const live = await LiveRoutes.start(new SqliteStore(store), backends, logger, 3_600_000);
  cleanups.push(() => {
    live.stop();
    store.close();
    void backends.destroy();
    temp.cleanup();
  });
  return { store, live, db: temp.db };
}

/** Waits until the live table has caught up with the feed (large changes apply over several turns). */
async function settled(live: LiveRoutes, store: RouteStore): Promise<void> {
  for (let i = 0; i < 1_000 && live.feedPosition.routes !== store.feedPosition().routes; i++) await new Promise((r) => setImmediate(r));
  expect(live.feedPosition.routes).toBe(store.feedPosition().routes);
}

const PREFIXES = ['/a', '/a/b', '/a/b/c', '/b', '/c', '/c/d', '/e'];
const PROBES = ['/', '/a', '/a/x', '/a/b', '/a/b/c/d', '/b/1', '/c', '/c/d/e', '/e', '/f'];
const IDS = ['r1', 'r2', 'r3', 'r4', 'r5'];

type Op =
  | { kind: 'create'; id: string; prefix: string; mode: 'legacy' | 'canary' | 'modern' }
  | { kind: 'update'; id: string; prefix: string; canaryPercent: number }
  | { kind: 'delete'; id: string }
  | { kind: 'swap'; a: string; b: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), id: fc.constantFrom(...IDS), prefix: fc.constantFrom(...PREFIXES), mode: fc.constantFrom('legacy' as const, 'canary' as const, 'modern' as const) }),
  fc.record({ kind: fc.constant('update' as const), id: fc.constantFrom(...IDS), prefix: fc.constantFrom(...PREFIXES), canaryPercent: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...IDS) }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.constantFrom(...IDS), b: fc.constantFrom(...IDS) }),
);

/** Carries out `op`; a change the store refuses (duplicate prefix, missing route) is simply skipped. */
function apply(store: RouteStore, o: Op): void {
  try {
    if (o.kind === 'create') store.create({ id: o.id, pathPrefix: o.prefix, mode: o.mode }, { actor: 't' });
    if (o.kind === 'update') store.update(o.id, { pathPrefix: o.prefix, canaryPercent: o.canaryPercent }, { actor: 't' });
    if (o.kind === 'delete') store.delete(o.id, { actor: 't' });
    if (o.kind === 'swap') {
      // Two routes exchange prefixes in one transaction (a route file can do this).
      const a = store.get(o.a);
      const b = store.get(o.b);
      if (a === undefined || b === undefined || a.id === b.id) return;
      const others = store.list().filter((r) => r.id !== a.id && r.id !== b.id);
      const spec = (r: typeof a, pathPrefix: string) => desiredRoute({ ...r, pathPrefix, id: r.id, resilience: r.resilience });
      store.apply([spec(a, b.pathPrefix), spec(b, a.pathPrefix), ...others.map((r) => spec(r, r.pathPrefix))], { prune: false, dryRun: false }, { actor: 't' });
    }
  } catch (err) {
    if (!(err instanceof Error) || !('code' in err)) throw err;
  }
}

function expectSameLookups(live: RouteTable, store: RouteStore): void {
  const reference = new RouteTable(store.list());
  expect(live.size).toBe(reference.size);
  expect(live.modeCounts).toEqual(reference.modeCounts);
  for (const path of PROBES) {
    const got = live.match(path);
    const want = reference.match(path);
    expect({ path, id: got?.id, version: got?.version, prefix: got?.pathPrefix }).toEqual({ path, id: want?.id, version: want?.version, prefix: want?.pathPrefix });
  }
}

describe('LiveRoutes follows the change feed', () => {
  it('any sequence of creates, updates, prefix moves, swaps and deletes gives the lookups of a full rebuild', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const { store, live } = await open();
        for (const o of ops) {
          apply(store, o);
          // Small changes are live once the store's change notification has run (microtasks, no I/O wait).
          await settled(live, store);
          expectSameLookups(live.current, store);
        }
        for (const c of cleanups.splice(0)) c();
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 60) },
    );
  });

  it('a change of more routes than a slice is applied over several turns, and ends complete', async () => {
    const { store, live } = await open();
    const routes = Array.from({ length: SLICE * 2 + 17 }, (_, i) => desiredRoute(RouteSpec.parse({ id: `s${i}`, pathPrefix: `/svc/${i}` })));
    store.apply(routes, { prune: false, dryRun: false }, { actor: 't' });
    // The first slice is in by the next turn (the change notification's reads resolve at once), the rest follows on later turns.
    await new Promise((r) => setImmediate(r));
    expect(live.current.size).toBe(SLICE);
    await settled(live, store);
    expect(live.current.size).toBe(routes.length);
    expect(live.current.match(`/svc/${routes.length - 1}/x`)?.id).toBe(`s${routes.length - 1}`);
  });

  it('a gap in the feed (history rows removed) makes it reload everything, and it is right afterwards', async () => {
    const { store, live, db } = await open();
    for (let i = 0; i < 5; i++) store.create({ id: `g${i}`, pathPrefix: `/g/${i}` }, { actor: 't' });
    // Another connection deletes one route and the history rows that would announce it: a gap.
    const Database = (await import('better-sqlite3')).default;
    const other = new Database(db);
    other.prepare("DELETE FROM routes WHERE id = 'g2'").run();
    other.prepare("INSERT INTO route_history (seq, route_id, version, action, before, after, actor, reason, at) VALUES (1000, 'g3', 99, 'update', NULL, NULL, 'x', NULL, 'now')").run();
    other.close();
    store.update('g4', { canaryPercent: 5 }, { actor: 't' }); // a commit this process notices
    await settled(live, store);
    expect(live.current.get('g2')).toBeUndefined();
    expectSameLookups(live.current, store);
  });

  it('sees changes another connection commits when it polls', async () => {
    const { store, live, db } = await open();
    const other = RouteStore.open(db, { clock });
    other.create({ id: 'elsewhere', pathPrefix: '/elsewhere' }, { actor: 'other' });
    other.close();
    expect(live.current.get('elsewhere')).toBeUndefined();
    (live as unknown as { poll(): void }).poll();
    await settled(live, store);
    expect(live.current.match('/elsewhere/1')?.id).toBe('elsewhere');
  });
});
