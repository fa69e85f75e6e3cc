import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GatewayError, type ErrorCode } from '../../src/errors.js';
import { DEFAULT_RESILIENCE, RouteCreate, type ChangeMeta, type HistoryEntry, type Route } from '../../src/routing/schema.js';
import { RouteStore, SCHEMA_VERSION } from '../../src/routing/store.js';
import { DEFAULT_SHADOW_SETTINGS } from '../../src/shadow/settings.js';
import { tempDir } from '../helpers/servers.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

let t = T0;
const clock = { now: () => t };
let temp: ReturnType<typeof tempDir>;
let store: RouteStore;
const opened: RouteStore[] = [];

function open(path = temp.db): RouteStore {
  const s = RouteStore.open(path, { clock });
  opened.push(s);
  return s;
}

/** Advances the fake clock so each write gets its own timestamp. */
function tick(ms = 1000): number {
  t += ms;
  return t;
}

const alice: ChangeMeta = { actor: 'alice' };

/** RouteCreate applies the defaults, as the admin API does before calling the store. */
function create(input: Partial<RouteCreate> & { pathPrefix: string }, meta: ChangeMeta = alice): Route {
  return store.create(RouteCreate.parse(input), meta);
}

/** Runs `fn`, which must throw a GatewayError; returns it. */
function gatewayError(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError, nothing was thrown');
}

/** Snapshot of everything a failed write must leave alone. */
function snapshot(s: RouteStore = store): { routes: Route[]; history: Record<string, HistoryEntry[]> } {
  const routes = s.list();
  const ids = new Set(routes.map((r) => r.id));
  const history: Record<string, HistoryEntry[]> = {};
  for (const id of ids) history[id] = s.history(id);
  return { routes, history };
}

/** `fn` fails with `code` and changes neither routes nor history. */
function expectRejectedUnchanged(fn: () => unknown, code: ErrorCode): GatewayError {
  const before = snapshot();
  const err = gatewayError(fn);
  expect(err.code).toBe(code);
  expect(snapshot()).toEqual(before);
  return err;
}

beforeEach(() => {
  t = T0;
  temp = tempDir();
  store = open();
});

afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  temp.cleanup();
});

describe('RouteStore.create', () => {
  it('applies the defaults and stamps version 1 with the clock', () => {
    const route = create({ pathPrefix: '/orders' });
    expect(route).toEqual({
      id: 'orders',
      pathPrefix: '/orders',
      mode: 'legacy',
      canaryPercent: 0,
      stickyKey: 'cookie',
      timeoutMs: 30_000,
      maxBodyBytes: null,
      resilience: DEFAULT_RESILIENCE,
      legacyBackend: 'legacy',
      modernBackend: 'modern',
      shadow: DEFAULT_SHADOW_SETTINGS,
      stage: 'legacy',
      retireAfterMs: 7 * 24 * 3_600_000,
      rollout: null,
      version: 1,
      createdAt: iso(T0),
      updatedAt: iso(T0),
    });
    expect(store.get('orders')).toEqual(route);
    expect(store.list()).toEqual([route]);
  });

  it('keeps shadow settings, defaults filled, and merges a change to them field by field', () => {
    const route = store.create({ pathPrefix: '/orders', mode: 'shadow', shadow: { samplePercent: 50, ignorePaths: ['$.meta.requestId'] } }, alice);
    expect(route.shadow).toEqual({ ...DEFAULT_SHADOW_SETTINGS, samplePercent: 50, ignorePaths: ['$.meta.requestId'] });
    const changed = store.update('orders', { shadow: { unorderedPaths: ['$.items'] } }, { actor: 'test' });
    expect(changed.shadow).toEqual({ ...route.shadow, unorderedPaths: ['$.items'] });
    expect(store.get('orders')).toEqual(changed);
    expect(() => store.update('orders', { shadow: { ignorePaths: ['meta.requestId'] } }, { actor: 'test' })).toThrow(/shadow\.ignorePaths/);
  });

  it('keeps every given setting', () => {
    const route = create({
      id: 'ord',
      pathPrefix: '/orders',
      mode: 'canary',
      canaryPercent: 25,
      stickyKey: 'header:x-user-id',
      timeoutMs: 1500,
    });
    expect(route).toMatchObject({
      id: 'ord',
      mode: 'canary',
      canaryPercent: 25,
      stickyKey: 'header:x-user-id',
      timeoutMs: 1500,
    });
  });

  it.each([
    ['/api/v1/users', 'api-v1-users'],
    ['/Orders', 'orders'],
    ['/a.b_c~d', 'a-b-c-d'],
    ['/', 'root'],
    ['/~', 'root'],
    ['/' + 'x'.repeat(100), 'x'.repeat(56)],
  ])('derives the id from prefix %s → %s', (pathPrefix, id) => {
    expect(create({ pathPrefix }).id).toBe(id);
  });

  it('derives a numbered id when the derived one is taken', () => {
    create({ pathPrefix: '/a-b' });
    expect(create({ pathPrefix: '/a.b' }).id).toBe('a-b-2');
    expect(create({ pathPrefix: '/a_b' }).id).toBe('a-b-3');
  });

  it('refuses a duplicate id with DUPLICATE_ID (409) and changes nothing', () => {
    create({ id: 'orders', pathPrefix: '/orders' });
    const err = expectRejectedUnchanged(() => create({ id: 'orders', pathPrefix: '/other' }), 'DUPLICATE_ID');
    expect(err.status).toBe(409);
  });

  it('refuses a duplicate prefix with DUPLICATE_PATH (409) and changes nothing', () => {
    create({ id: 'orders', pathPrefix: '/orders' });
    const err = expectRejectedUnchanged(() => create({ id: 'orders2', pathPrefix: '/orders' }), 'DUPLICATE_PATH');
    expect(err.status).toBe(409);
  });

  it('lists routes ordered by path prefix', () => {
    create({ pathPrefix: '/zeta' });
    create({ pathPrefix: '/alpha' });
    create({ pathPrefix: '/mid' });
    expect(store.list().map((r) => r.pathPrefix)).toEqual(['/alpha', '/mid', '/zeta']);
  });

  it('returns undefined from get() for an unknown id', () => {
    expect(store.get('nope')).toBeUndefined();
  });

  it('notifies change listeners after each committed write, not after failed ones', () => {
    let calls = 0;
    const off = store.onChange(() => calls++);
    create({ pathPrefix: '/orders' });
    gatewayError(() => create({ pathPrefix: '/orders' }));
    expect(calls).toBe(1);
    off();
    create({ pathPrefix: '/users' });
    expect(calls).toBe(1);
  });
});

describe('RouteStore.update', () => {
  beforeEach(() => {
    create({ id: 'orders', pathPrefix: '/orders' });
  });

  it('bumps the version and keeps the fields not changed', () => {
    tick();
    const route = store.update('orders', { mode: 'canary', canaryPercent: 10 }, alice);
    expect(route).toMatchObject({ version: 2, mode: 'canary', canaryPercent: 10, pathPrefix: '/orders', timeoutMs: 30_000 });
    expect(route.createdAt).toBe(iso(T0));
    expect(route.updatedAt).toBe(iso(t));
    expect(store.get('orders')).toEqual(route);
  });

  it('records nothing for a change that alters nothing', () => {
    const before = snapshot();
    tick();
    const route = store.update('orders', { mode: 'legacy', canaryPercent: 0 }, alice);
    expect(route).toEqual(before.routes[0]);
    expect(snapshot()).toEqual(before);
  });

  it('records nothing for an empty change', () => {
    const before = snapshot();
    store.update('orders', {}, alice);
    expect(snapshot()).toEqual(before);
  });

  it('ignores undefined fields in the change', () => {
    const route = store.update('orders', { mode: 'modern', canaryPercent: undefined }, alice);
    expect(route).toMatchObject({ mode: 'modern', canaryPercent: 0, version: 2 });
  });

  it('applies the change when expectedVersion matches', () => {
    const route = store.update('orders', { mode: 'modern' }, { actor: 'alice', expectedVersion: 1 });
    expect(route.version).toBe(2);
  });

  it('refuses a stale expectedVersion with VERSION_CONFLICT naming the current version', () => {
    store.update('orders', { mode: 'modern' }, alice);
    const err = expectRejectedUnchanged(
      () => store.update('orders', { mode: 'legacy' }, { actor: 'bob', expectedVersion: 1 }),
      'VERSION_CONFLICT',
    );
    expect(err.status).toBe(409);
    expect(err.details).toEqual({ currentVersion: 2 });
  });

  it('refuses an unknown id with ROUTE_NOT_FOUND', () => {
    const err = expectRejectedUnchanged(() => store.update('nope', { mode: 'modern' }, alice), 'ROUTE_NOT_FOUND');
    expect(err.status).toBe(404);
  });

  it('refuses moving onto a prefix another route owns with DUPLICATE_PATH', () => {
    create({ id: 'users', pathPrefix: '/users' });
    expectRejectedUnchanged(() => store.update('orders', { pathPrefix: '/users' }, alice), 'DUPLICATE_PATH');
  });

  it('moves a route to a free prefix', () => {
    const route = store.update('orders', { pathPrefix: '/v2/orders' }, alice);
    expect(route).toMatchObject({ id: 'orders', pathPrefix: '/v2/orders', version: 2 });
    expect(store.list().map((r) => r.pathPrefix)).toEqual(['/v2/orders']);
  });

  it('records the given action (flip) in history', () => {
    store.update('orders', { mode: 'modern' }, alice, 'flip');
    expect(store.history('orders')[0]!.action).toBe('flip');
  });
});

describe('RouteStore.history', () => {
  it('has one row per version, newest first, with before/after, actor, reason and clock timestamps', () => {
    const v1 = create({ id: 'orders', pathPrefix: '/orders', reason: 'ignored by store' }, { actor: 'alice', reason: 'start' });
    const t2 = tick();
    const v2 = store.update('orders', { mode: 'canary', canaryPercent: 5 }, { actor: 'bob', reason: 'canary 5%' });
    const t3 = tick();
    const v3 = store.update('orders', { mode: 'modern' }, { actor: 'carol' }, 'flip');

    expect(store.history('orders')).toEqual([
      { routeId: 'orders', version: 3, action: 'flip', before: v2, after: v3, actor: 'carol', reason: null, at: iso(t3) },
      { routeId: 'orders', version: 2, action: 'update', before: v1, after: v2, actor: 'bob', reason: 'canary 5%', at: iso(t2) },
      { routeId: 'orders', version: 1, action: 'create', before: null, after: v1, actor: 'alice', reason: 'start', at: iso(T0) },
    ]);
  });

  it('refuses an id that never existed with ROUTE_NOT_FOUND', () => {
    expect(gatewayError(() => store.history('nope')).code).toBe('ROUTE_NOT_FOUND');
  });

  it('keeps the history of a deleted route', () => {
    create({ id: 'orders', pathPrefix: '/orders' });
    store.delete('orders', alice);
    expect(store.history('orders').map((h) => h.action)).toEqual(['delete', 'create']);
  });
});

describe('RouteStore.rollback', () => {
  let v1: Route;
  let v2: Route;
  let v3: Route;

  beforeEach(() => {
    v1 = create({ id: 'orders', pathPrefix: '/orders' });
    tick();
    v2 = store.update('orders', { mode: 'canary', canaryPercent: 10 }, alice);
    tick();
    v3 = store.update('orders', { canaryPercent: 50, timeoutMs: 5000 }, alice);
    tick();
  });

  it('defaults to the previous version, as a new version', () => {
    const route = store.rollback('orders', undefined, { actor: 'ops', reason: 'errors up' });
    expect(route).toEqual({ ...v2, version: 4, updatedAt: iso(t) });
    const [latest] = store.history('orders');
    expect(latest).toEqual({
      routeId: 'orders',
      version: 4,
      action: 'rollback',
      before: v3,
      after: route,
      actor: 'ops',
      reason: 'errors up',
      at: iso(t),
    });
  });

  it('restores an explicit toVersion', () => {
    const route = store.rollback('orders', 1, alice);
    expect(route).toEqual({ ...v1, version: 4, updatedAt: iso(t) });
  });

  it('rolls back a rollback (undo)', () => {
    store.rollback('orders', undefined, alice); // v4 = settings of v2
    tick();
    const route = store.rollback('orders', undefined, alice); // v5 = settings of v4's previous, v3
    expect(route).toEqual({ ...v3, version: 5, updatedAt: iso(t) });
  });

  it('records a rollback even when the restored settings equal the current ones', () => {
    store.update('orders', { canaryPercent: 10, timeoutMs: 30_000 }, alice); // v4 == v2 settings
    const route = store.rollback('orders', 2, alice);
    expect(route.version).toBe(5);
    expect(store.history('orders')[0]!.action).toBe('rollback');
  });

  it('honours a matching expectedVersion', () => {
    expect(store.rollback('orders', undefined, { actor: 'a', expectedVersion: 3 }).version).toBe(4);
  });

  it('refuses a stale expectedVersion with VERSION_CONFLICT', () => {
    const err = expectRejectedUnchanged(
      () => store.rollback('orders', undefined, { actor: 'a', expectedVersion: 2 }),
      'VERSION_CONFLICT',
    );
    expect(err.details).toEqual({ currentVersion: 3 });
  });

  it('refuses version 1 with NO_PREVIOUS_VERSION', () => {
    create({ id: 'fresh', pathPrefix: '/fresh' });
    const err = expectRejectedUnchanged(() => store.rollback('fresh', undefined, alice), 'NO_PREVIOUS_VERSION');
    expect(err.status).toBe(409);
  });

  it.each([3, 4, 99])('refuses toVersion %i (≥ current 3) with NO_PREVIOUS_VERSION', (toVersion) => {
    expectRejectedUnchanged(() => store.rollback('orders', toVersion, alice), 'NO_PREVIOUS_VERSION');
  });

  it.each([0, -1])('refuses toVersion %i with NO_PREVIOUS_VERSION', (toVersion) => {
    expectRejectedUnchanged(() => store.rollback('orders', toVersion, alice), 'NO_PREVIOUS_VERSION');
  });

  it('refuses an unknown id with ROUTE_NOT_FOUND', () => {
    expectRejectedUnchanged(() => store.rollback('nope', undefined, alice), 'ROUTE_NOT_FOUND');
  });

  it('refuses restoring a prefix another route now owns with DUPLICATE_PATH', () => {
    store.update('orders', { pathPrefix: '/v2/orders' }, alice); // v4
    create({ id: 'legacy-orders', pathPrefix: '/orders' });
    expectRejectedUnchanged(() => store.rollback('orders', 3, alice), 'DUPLICATE_PATH');
  });

  it('restores a prefix that is free again', () => {
    store.update('orders', { pathPrefix: '/v2/orders' }, alice); // v4
    const route = store.rollback('orders', undefined, alice);
    expect(route).toMatchObject({ pathPrefix: '/orders', version: 5 });
  });
});

describe('RouteStore.delete', () => {
  beforeEach(() => {
    create({ id: 'orders', pathPrefix: '/orders' });
    store.update('orders', { mode: 'modern' }, alice);
  });

  it('removes the route and returns it as it was', () => {
    const current = store.get('orders');
    expect(store.delete('orders', alice)).toEqual(current);
    expect(store.get('orders')).toBeUndefined();
    expect(store.list()).toEqual([]);
  });

  it('records a delete row one version above the route', () => {
    const current = store.get('orders');
    const at = tick();
    store.delete('orders', { actor: 'bob', reason: 'retired' });
    expect(store.history('orders')[0]).toEqual({
      routeId: 'orders',
      version: 3,
      action: 'delete',
      before: current,
      after: null,
      actor: 'bob',
      reason: 'retired',
      at: iso(at),
    });
  });

  it('continues the version numbering when the same id is re-created', () => {
    store.delete('orders', alice); // history v3
    const route = create({ id: 'orders', pathPrefix: '/orders' });
    expect(route.version).toBe(4);
    expect(store.history('orders').map((h) => [h.version, h.action])).toEqual([
      [4, 'create'],
      [3, 'delete'],
      [2, 'update'],
      [1, 'create'],
    ]);
  });

  it('frees the prefix for another route', () => {
    store.delete('orders', alice);
    expect(create({ id: 'other', pathPrefix: '/orders' }).pathPrefix).toBe('/orders');
  });

  it('refuses a stale expectedVersion with VERSION_CONFLICT', () => {
    expectRejectedUnchanged(() => store.delete('orders', { actor: 'a', expectedVersion: 1 }), 'VERSION_CONFLICT');
  });

  it('refuses an unknown id with ROUTE_NOT_FOUND', () => {
    expectRejectedUnchanged(() => store.delete('nope', alice), 'ROUTE_NOT_FOUND');
  });

  it('refuses deleting twice with ROUTE_NOT_FOUND', () => {
    store.delete('orders', alice);
    expectRejectedUnchanged(() => store.delete('orders', alice), 'ROUTE_NOT_FOUND');
  });
});

describe('RouteStore.open', () => {
  it('keeps routes and history across a restart (reopening the file)', () => {
    create({ id: 'orders', pathPrefix: '/orders' });
    store.update('orders', { mode: 'modern' }, { actor: 'bob', reason: 'go' });
    create({ id: 'users', pathPrefix: '/users' });
    const before = snapshot();
    store.close();

    const reopened = open();
    expect(snapshot(reopened)).toEqual(before);
  });

  it('reports isOpen until closed', () => {
    expect(store.isOpen).toBe(true);
    store.close();
    expect(store.isOpen).toBe(false);
  });

  it('records the current schema version in schema_version', () => {
    store.close();
    const db = new Database(temp.db, { readonly: true });
    try {
      expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: SCHEMA_VERSION }]);
    } finally {
      db.close();
    }
  });

  it('keeps one schema_version row after reopening', () => {
    store.close();
    open().close();
    const db = new Database(temp.db, { readonly: true });
    try {
      expect(db.prepare('SELECT version FROM schema_version').all()).toEqual([{ version: SCHEMA_VERSION }]);
    } finally {
      db.close();
    }
  });

  it('puts the database in WAL mode', () => {
    const db = new Database(temp.db, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('refuses a database with a newer schema version (DB_OPEN_FAILED)', () => {
    const path = join(temp.dir, 'newer.db');
    const db = new Database(path);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION + 1);
    db.close();

    const err = gatewayError(() => open(path));
    expect(err.code).toBe('DB_OPEN_FAILED');
    expect(err.message).toMatch(/newer/);
  });

  it('leaves a newer database untouched', () => {
    const path = join(temp.dir, 'newer.db');
    const db = new Database(path);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION + 1);
    db.close();

    gatewayError(() => open(path));
    const check = new Database(path, { readonly: true });
    try {
      const tables = check.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all();
      expect(tables.map((r) => r.name)).toEqual(['schema_version']);
    } finally {
      check.close();
    }
  });

  it('refuses a corrupt file (random bytes) with DB_OPEN_FAILED', () => {
    const path = join(temp.dir, 'corrupt.db');
    writeFileSync(path, randomBytes(64 * 1024));
    expect(gatewayError(() => open(path)).code).toBe('DB_OPEN_FAILED');
  });

  it('refuses a path in a missing directory with DB_OPEN_FAILED', () => {
    const path = join(temp.dir, 'no', 'such', 'dir', 'routes.db');
    const err = gatewayError(() => open(path));
    expect(err.code).toBe('DB_OPEN_FAILED');
    expect(err.message).toContain(path);
  });
});

describe('schema migration from version 1', () => {
  it('reads routes written before resilience settings existed with the defaults', () => {
    const { db: file, cleanup } = tempDir();
    try {
      const old = new Database(file);
      old.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
        CREATE TABLE routes (id TEXT PRIMARY KEY, path_prefix TEXT NOT NULL UNIQUE, mode TEXT NOT NULL, canary_percent INTEGER NOT NULL,
          sticky_key TEXT NOT NULL, timeout_ms INTEGER NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE route_history (seq INTEGER PRIMARY KEY AUTOINCREMENT, route_id TEXT NOT NULL, version INTEGER NOT NULL, action TEXT NOT NULL,
          before TEXT, after TEXT, actor TEXT NOT NULL, reason TEXT, at TEXT NOT NULL, UNIQUE (route_id, version));
        INSERT INTO routes VALUES ('orders', '/orders', 'modern', 0, 'cookie', 5000, 1, 't', 't');
        INSERT INTO route_history (route_id, version, action, before, after, actor, at) VALUES ('orders', 1, 'create', NULL,
          '{"id":"orders","pathPrefix":"/orders","mode":"modern","canaryPercent":0,"stickyKey":"cookie","timeoutMs":5000,"version":1,"createdAt":"t","updatedAt":"t"}', 'x', 't');`);
      old.close();
      const migrated = RouteStore.open(file, { clock: { now: () => 0 } });
      expect(migrated.get('orders')).toMatchObject({ mode: 'modern', timeoutMs: 5000, resilience: DEFAULT_RESILIENCE });
      expect(migrated.history('orders')[0]!.after!.resilience).toEqual(DEFAULT_RESILIENCE);
      migrated.close();
    } finally {
      cleanup();
    }
  });
});
