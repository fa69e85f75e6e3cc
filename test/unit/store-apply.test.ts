import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { RouteFile, desiredRoute, type DesiredRoute } from '../../src/routing/route-file.js';
import { RouteCreate, type ChangeMeta } from '../../src/routing/schema.js';
import { RouteStore } from '../../src/routing/store.js';
import { tempDir } from '../helpers/servers.js';

let t = Date.parse('2030-01-01T00:00:00.000Z');
const clock = { now: () => (t += 1000) };
let temp: ReturnType<typeof tempDir>;
let store: RouteStore;

beforeEach(() => {
  temp = tempDir();
  store = RouteStore.open(temp.db, { clock });
});
afterEach(() => {
  store.close();
  temp.cleanup();
});

const ci: ChangeMeta = { actor: 'ci', reason: 'merge #42' };
const file = (...routes: Record<string, unknown>[]): DesiredRoute[] => RouteFile.parse({ routes }).routes.map(desiredRoute);
const apply = (routes: DesiredRoute[], options: Partial<{ prune: boolean; dryRun: boolean }> = {}) =>
  store.apply(routes, { prune: false, dryRun: false, ...options }, ci);
const create = (id: string, pathPrefix: string) => store.create(RouteCreate.parse({ id, pathPrefix }), { actor: 'alice' });
const snapshot = () => ({ routes: store.list(), history: store.list().map((r) => store.history(r.id)) });

describe('RouteStore.apply', () => {
  it('creates, updates and prunes, one history row per change with the actor and reason', () => {
    create('orders', '/orders');
    create('old', '/old');
    const plan = apply(file({ id: 'orders', pathPrefix: '/orders', mode: 'modern' }, { id: 'users', pathPrefix: '/users' }), { prune: true });
    expect(plan.changes.map((c) => `${c.action} ${c.id}`)).toEqual(['delete old', 'update orders', 'create users']);
    expect(store.list().map((r) => [r.id, r.mode, r.version])).toEqual([
      ['orders', 'modern', 2],
      ['users', 'legacy', 1],
    ]);
    expect(store.history('orders')[0]).toMatchObject({ action: 'update', version: 2, actor: 'ci', reason: 'merge #42' });
    expect(store.history('users')[0]).toMatchObject({ action: 'create', version: 1, actor: 'ci', reason: 'merge #42' });
    expect(store.history('old')[0]).toMatchObject({ action: 'delete', version: 2, actor: 'ci' });
  });

  it('is idempotent: the same file twice makes no new versions or history rows', () => {
    const routes = file({ id: 'orders', pathPrefix: '/orders', canaryPercent: 10, mode: 'canary' }, { id: 'users', pathPrefix: '/users' });
    apply(routes);
    const before = snapshot();
    const again = apply(routes);
    expect(again.changes.every((c) => c.action === 'unchanged')).toBe(true);
    expect(snapshot()).toEqual(before);
  });

  it('applies shadow settings from a file (defaults filled); a change shows as its fields', () => {
    const shadowed = (shadow: Record<string, unknown>) => file({ id: 'orders', pathPrefix: '/orders', mode: 'shadow', shadow });
    apply(shadowed({ ignorePaths: ['$.meta.requestId'] }));
    expect(store.get('orders')).toMatchObject({ mode: 'shadow', shadow: { ignorePaths: ['$.meta.requestId'], samplePercent: 100, noisePercent: 5 } });
    expect(apply(shadowed({ ignorePaths: ['$.meta.requestId'] })).changes[0]!.action).toBe('unchanged');
    const plan = apply(shadowed({ ignorePaths: ['$.meta.requestId'], samplePercent: 25 }));
    expect(plan.changes[0]).toMatchObject({ action: 'update', changes: [{ field: 'shadow.samplePercent', from: 100, to: 25 }] });
    expect(() => file({ id: 'x', pathPrefix: '/x', shadow: { ignorePaths: ['meta'] } })).toThrow();
  });

  it('a dry run returns the plan and changes nothing', () => {
    create('orders', '/orders');
    const before = snapshot();
    const plan = apply(file({ id: 'users', pathPrefix: '/users' }), { prune: true, dryRun: true });
    expect(plan.changes.map((c) => c.action)).toEqual(['delete', 'create']);
    expect(snapshot()).toEqual(before);
  });

  it('is all or nothing: a prefix held by a route the file does not manage changes nothing', () => {
    create('legacy-orders', '/orders');
    create('users', '/users');
    const before = snapshot();
    let error: unknown;
    try {
      apply(file({ id: 'users', pathPrefix: '/users', mode: 'modern' }, { id: 'new', pathPrefix: '/new' }, { id: 'orders', pathPrefix: '/orders' }));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('DUPLICATE_PATH');
    expect((error as GatewayError).message).toMatch(/^routes\[2\] \(orders\): route "legacy-orders", which the file does not list/);
    expect(snapshot()).toEqual(before);
  });

  it('moves prefixes between routes in one apply (a swap), and a pruned route frees its prefix', () => {
    create('a', '/a');
    create('b', '/b');
    create('c', '/c');
    apply(file({ id: 'a', pathPrefix: '/b' }, { id: 'b', pathPrefix: '/a' }, { id: 'd', pathPrefix: '/c' }), { prune: true });
    expect(store.list().map((r) => `${r.id}=${r.pathPrefix}`)).toEqual(['b=/a', 'a=/b', 'd=/c']);
  });

  it('a re-created id continues its version numbering', () => {
    create('orders', '/orders');
    apply(file(), { prune: true });
    apply(file({ id: 'orders', pathPrefix: '/orders' }));
    expect(store.get('orders')!.version).toBe(3);
    expect(store.history('orders').map((h) => h.action)).toEqual(['create', 'delete', 'create']);
  });

  it('tells listeners once per apply, never for a dry run', () => {
    let calls = 0;
    store.onChange(() => calls++);
    const routes = file({ id: 'a', pathPrefix: '/a' }, { id: 'b', pathPrefix: '/b' });
    apply(routes, { dryRun: true });
    expect(calls).toBe(0);
    apply(routes);
    expect(calls).toBe(1);
  });
});
