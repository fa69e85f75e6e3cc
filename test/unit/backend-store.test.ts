import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BACKEND_SETTINGS, type Backend, type BackendHistoryEntry } from '../../src/backends/schema.js';
import { GatewayError, type ErrorCode } from '../../src/errors.js';
import { RouteCreate, type ChangeMeta, type Route } from '../../src/routing/schema.js';
import { RouteStore } from '../../src/routing/store.js';

/** BackendStore as the gateway uses it: through RouteStore, on an in-memory database and a fake clock. */

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

let t = T0;
const clock = { now: () => t };
let store: RouteStore;

/** Advances the fake clock so each write gets its own timestamp. */
function tick(ms = 1000): number {
  t += ms;
  return t;
}

const alice: ChangeMeta = { actor: 'alice' };
const LEGACY_URL = 'http://10.0.0.1:8080';
const MODERN_URL = 'http://10.0.0.2:8080';
const SVC_URL = 'http://10.0.0.5:9000/api';

const addBackend = (input: Parameters<RouteStore['backends']['create']>[0], meta: ChangeMeta = alice): Backend => store.backends.create(input, meta);
const addRoute = (input: Partial<RouteCreate> & { pathPrefix: string }): Route => store.create(RouteCreate.parse(input), alice);

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

/** Everything a refused write must leave alone: backends, their history, routes. */
function snapshot(): { backends: Backend[]; history: Record<string, BackendHistoryEntry[]>; routes: Route[] } {
  const backends = store.backends.list();
  const history: Record<string, BackendHistoryEntry[]> = {};
  for (const b of backends) history[b.name] = store.backends.history(b.name);
  return { backends, history, routes: store.list() };
}

/** `fn` fails with `code` and changes nothing. */
function expectRejectedUnchanged(fn: () => unknown, code: ErrorCode): GatewayError {
  const before = snapshot();
  const err = gatewayError(fn);
  expect(err.code, err.message).toBe(code);
  expect(snapshot()).toEqual(before);
  return err;
}

beforeEach(() => {
  t = T0;
  store = RouteStore.open(':memory:', { clock });
});

afterEach(() => {
  store.close();
});

describe('BackendStore.create', () => {
  it('fills in the defaults, role modern, and stamps version 1 with the clock', () => {
    const backend = addBackend({ name: 'orders-svc', url: SVC_URL });
    expect(backend).toEqual({
      name: 'orders-svc',
      url: SVC_URL,
      role: 'modern',
      maxInFlight: DEFAULT_BACKEND_SETTINGS.maxInFlight,
      connectTimeoutMs: DEFAULT_BACKEND_SETTINGS.connectTimeoutMs,
      connections: null,
      retryBudget: { percent: 20, minPerSecond: 5 },
      hostHeader: 'client',
      version: 1,
      createdAt: iso(T0),
      updatedAt: iso(T0),
    });
    expect(store.backends.get('orders-svc')).toEqual(backend);
    expect(store.backends.list()).toEqual([backend]);
  });

  it('records the create in the history with the actor and reason', () => {
    const backend = addBackend({ name: 'orders-svc', url: SVC_URL }, { actor: 'alice', reason: 'split orders out' });
    expect(store.backends.history('orders-svc')).toEqual([
      { name: 'orders-svc', version: 1, action: 'create', before: null, after: backend, actor: 'alice', reason: 'split orders out', at: iso(T0) },
    ]);
  });

  it('merges a partial retry budget over the default one', () => {
    expect(addBackend({ name: 'orders-svc', url: SVC_URL, retryBudget: { percent: 5 } }).retryBudget).toEqual({ percent: 5, minPerSecond: 5 });
  });

  it('refuses a name that exists with DUPLICATE_BACKEND (409) and changes nothing', () => {
    addBackend({ name: 'orders-svc', url: SVC_URL });
    const err = expectRejectedUnchanged(() => addBackend({ name: 'orders-svc', url: MODERN_URL, role: 'legacy' }), 'DUPLICATE_BACKEND');
    expect(err.status).toBe(409);
  });

  it('refuses invalid settings with VALIDATION_FAILED naming the field', () => {
    const err = expectRejectedUnchanged(() => addBackend({ name: 'orders-svc', url: 'http://user:pw@host' }), 'VALIDATION_FAILED');
    expect(err.message).toMatch(/^url: must not carry credentials/);
  });
});

describe('BackendStore: unknown names', () => {
  it('get() returns undefined', () => {
    expect(store.backends.get('nope')).toBeUndefined();
  });

  it.each([
    ['update', () => store.backends.update('nope', { maxInFlight: 3 }, alice)],
    ['delete', () => store.backends.delete('nope', alice)],
    ['history', () => store.backends.history('nope')],
  ])('%s throws BACKEND_NOT_FOUND (404)', (_what, fn) => {
    const err = expectRejectedUnchanged(fn, 'BACKEND_NOT_FOUND');
    expect(err.status).toBe(404);
    expect(err.message).toBe('no backend "nope"');
  });
});

describe('BackendStore.update', () => {
  beforeEach(() => {
    addBackend({ name: 'orders-svc', url: SVC_URL });
  });

  it('bumps the version, keeps the other settings and merges the retry budget field by field', () => {
    tick();
    const backend = store.backends.update('orders-svc', { maxInFlight: 32, retryBudget: { minPerSecond: 1 } }, alice);
    expect(backend).toMatchObject({ version: 2, url: SVC_URL, maxInFlight: 32, retryBudget: { percent: 20, minPerSecond: 1 }, createdAt: iso(T0), updatedAt: iso(t) });
    expect(store.backends.get('orders-svc')).toEqual(backend);
  });

  it('records nothing for a change that alters nothing', () => {
    const before = snapshot();
    tick();
    const same = store.backends.update('orders-svc', { url: SVC_URL, role: 'modern', retryBudget: { percent: 20 } }, alice);
    expect(same).toEqual(before.backends[0]);
    expect(snapshot()).toEqual(before);
  });

  it('records nothing for an empty change', () => {
    const before = snapshot();
    store.backends.update('orders-svc', {}, alice);
    expect(snapshot()).toEqual(before);
  });

  it('refuses a stale expectedVersion with VERSION_CONFLICT and the current version', () => {
    store.backends.update('orders-svc', { maxInFlight: 10 }, alice);
    const err = expectRejectedUnchanged(() => store.backends.update('orders-svc', { maxInFlight: 20 }, { actor: 'bob', expectedVersion: 1 }), 'VERSION_CONFLICT');
    expect(err.status).toBe(409);
    expect(err.details).toEqual({ currentVersion: 2 });
  });

  it('accepts the current expectedVersion', () => {
    expect(store.backends.update('orders-svc', { maxInFlight: 20 }, { actor: 'bob', expectedVersion: 1 }).version).toBe(2);
  });

  it('refuses invalid settings with VALIDATION_FAILED and changes nothing', () => {
    const err = expectRejectedUnchanged(() => store.backends.update('orders-svc', { connectTimeoutMs: 60_001 }, alice), 'VALIDATION_FAILED');
    expect(err.message).toMatch(/^connectTimeoutMs: /);
  });
});

describe('BackendStore.history', () => {
  it('lists the versions newest first, each with its before and after', () => {
    const v1 = addBackend({ name: 'orders-svc', url: SVC_URL });
    tick();
    const v2 = store.backends.update('orders-svc', { url: MODERN_URL }, { actor: 'bob', reason: 'moved' });
    tick();
    const v3 = store.backends.update('orders-svc', { connections: 8 }, alice);
    const history = store.backends.history('orders-svc');
    expect(history.map((h) => [h.version, h.action, h.actor])).toEqual([
      [3, 'update', 'alice'],
      [2, 'update', 'bob'],
      [1, 'create', 'alice'],
    ]);
    expect(history[0]).toMatchObject({ before: v2, after: v3, at: iso(t) });
    expect(history[1]).toMatchObject({ before: v1, after: v2, reason: 'moved' });
    expect(history[2]).toMatchObject({ before: null, after: v1 });
  });
});

describe('BackendStore.delete', () => {
  beforeEach(() => {
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL } }, { actor: 'serve' });
    addBackend({ name: 'orders-svc', url: SVC_URL });
  });

  it('deletes an unused backend and records the delete as the next version', () => {
    tick();
    const deleted = store.backends.delete('orders-svc', { actor: 'bob', reason: 'gone' });
    expect(deleted.version).toBe(1);
    expect(store.backends.get('orders-svc')).toBeUndefined();
    expect(store.backends.history('orders-svc')[0]).toEqual({
      name: 'orders-svc',
      version: 2,
      action: 'delete',
      before: deleted,
      after: null,
      actor: 'bob',
      reason: 'gone',
      at: iso(t),
    });
  });

  it('refuses a backend routes use with BACKEND_IN_USE (409) naming them in details.routes', () => {
    addRoute({ id: 'users', pathPrefix: '/users', modernBackend: 'orders-svc' });
    addRoute({ id: 'orders', pathPrefix: '/orders', modernBackend: 'orders-svc' });
    addRoute({ id: 'other', pathPrefix: '/other' });
    const err = expectRejectedUnchanged(() => store.backends.delete('orders-svc', alice), 'BACKEND_IN_USE');
    expect(err.status).toBe(409);
    expect(err.details).toEqual({ routes: ['orders', 'users'] });
    expect(err.message).toMatch(/"orders", "users"/);
  });

  it.each(['legacy', 'modern'])('refuses to delete the default %s backend with BACKEND_REQUIRED', (name) => {
    const err = expectRejectedUnchanged(() => store.backends.delete(name, alice), 'BACKEND_REQUIRED');
    expect(err.status).toBe(409);
  });

  it('refuses a stale expectedVersion with VERSION_CONFLICT', () => {
    expectRejectedUnchanged(() => store.backends.delete('orders-svc', { actor: 'bob', expectedVersion: 3 }), 'VERSION_CONFLICT');
  });

  it('a re-created name continues its version numbering, so its history stays one sequence', () => {
    store.backends.update('orders-svc', { maxInFlight: 3 }, alice);
    store.backends.delete('orders-svc', alice);
    const again = addBackend({ name: 'orders-svc', url: MODERN_URL, role: 'legacy' });
    expect(again).toMatchObject({ version: 4, role: 'legacy', maxInFlight: DEFAULT_BACKEND_SETTINGS.maxInFlight });
    expect(store.backends.history('orders-svc').map((h) => `${h.version} ${h.action}`)).toEqual(['4 create', '3 delete', '2 update', '1 create']);
  });
});

describe('BackendStore: role changes', () => {
  beforeEach(() => {
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL } }, { actor: 'serve' });
    addBackend({ name: 'orders-svc', url: SVC_URL });
  });

  it('changes the role of a backend no route uses', () => {
    expect(store.backends.update('orders-svc', { role: 'legacy' }, alice)).toMatchObject({ role: 'legacy', version: 2 });
  });

  it('refuses the role change of a backend routes use with BACKEND_IN_USE and details.routes', () => {
    addRoute({ id: 'orders', pathPrefix: '/orders', modernBackend: 'orders-svc' });
    const err = expectRejectedUnchanged(() => store.backends.update('orders-svc', { role: 'legacy' }, alice), 'BACKEND_IN_USE');
    expect(err.details).toEqual({ routes: ['orders'] });
  });

  it('allows a change other than the role on a backend routes use', () => {
    addRoute({ id: 'orders', pathPrefix: '/orders', modernBackend: 'orders-svc' });
    expect(store.backends.update('orders-svc', { url: MODERN_URL }, alice).version).toBe(2);
  });

  it.each([
    ['legacy', 'modern'],
    ['modern', 'legacy'],
  ] as const)('refuses to change the role of the default %s backend with BACKEND_REQUIRED', (name, role) => {
    const err = expectRejectedUnchanged(() => store.backends.update(name, { role }, alice), 'BACKEND_REQUIRED');
    expect(err.status).toBe(409);
  });
});

describe('routes naming backends', () => {
  beforeEach(() => {
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL } }, { actor: 'serve' });
    addBackend({ name: 'monolith-2', url: SVC_URL, role: 'legacy' });
    addBackend({ name: 'orders-svc', url: SVC_URL });
  });

  it('a route may name backends of the right roles', () => {
    expect(addRoute({ pathPrefix: '/orders', legacyBackend: 'monolith-2', modernBackend: 'orders-svc' })).toMatchObject({
      legacyBackend: 'monolith-2',
      modernBackend: 'orders-svc',
    });
    expect(store.backends.usedBy('orders-svc')).toEqual(['orders']);
    expect(store.backends.usedBy('monolith-2')).toEqual(['orders']);
  });

  it('refuses a route naming a missing backend with VALIDATION_FAILED naming modernBackend', () => {
    const err = expectRejectedUnchanged(() => addRoute({ pathPrefix: '/orders', modernBackend: 'nope' }), 'VALIDATION_FAILED');
    expect(err.message).toBe('modernBackend: no backend named "nope"');
    expect(err.details).toEqual([{ path: 'modernBackend', message: 'no backend named "nope"' }]);
  });

  it('refuses a route naming a backend of the wrong role with VALIDATION_FAILED', () => {
    const err = expectRejectedUnchanged(() => addRoute({ pathPrefix: '/orders', modernBackend: 'monolith-2' }), 'VALIDATION_FAILED');
    expect(err.message).toBe('modernBackend: backend "monolith-2" has role legacy, not modern');
  });

  it('refuses an update moving a route to a missing legacy backend, naming legacyBackend', () => {
    addRoute({ id: 'orders', pathPrefix: '/orders' });
    const err = expectRejectedUnchanged(() => store.update('orders', { legacyBackend: 'nope' }, alice), 'VALIDATION_FAILED');
    expect(err.message).toBe('legacyBackend: no backend named "nope"');
  });
});

describe('BackendStore.ensureDefaults', () => {
  const serve: ChangeMeta = { actor: 'serve', reason: 'start-up flags' };

  it('creates both defaults from the URLs with their roles, the actor recorded', () => {
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL, maxInFlight: 64 } }, serve);
    expect(store.backends.list().map((b) => [b.name, b.role, b.url, b.maxInFlight, b.version])).toEqual([
      ['legacy', 'legacy', LEGACY_URL, 256, 1],
      ['modern', 'modern', MODERN_URL, 64, 1],
    ]);
    for (const name of ['legacy', 'modern']) {
      expect(store.backends.history(name)).toEqual([expect.objectContaining({ action: 'create', actor: 'serve', reason: 'start-up flags' })]);
    }
  });

  it('updates a stored default whose URL differs, with a history row', () => {
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL } }, serve);
    tick();
    store.backends.ensureDefaults({ legacy: { url: SVC_URL }, modern: { url: MODERN_URL } }, { actor: 'serve-2' });
    expect(store.backends.get('legacy')).toMatchObject({ url: SVC_URL, version: 2, updatedAt: iso(t) });
    expect(store.backends.history('legacy')[0]).toMatchObject({ version: 2, action: 'update', actor: 'serve-2', before: { url: LEGACY_URL }, after: { url: SVC_URL } });
    expect(store.backends.get('modern')!.version).toBe(1);
  });

  it('leaves stored defaults equal to the given settings alone: no new version', () => {
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL } }, serve);
    const before = snapshot();
    tick();
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL } }, serve);
    expect(snapshot()).toEqual(before);
  });

  it('keeps the stored URL when none is given (a later start without --legacy/--modern)', () => {
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL } }, serve);
    const before = snapshot();
    store.backends.ensureDefaults({}, serve);
    expect(snapshot()).toEqual(before);
  });

  it('throws CONFIG_INVALID when the legacy default is missing and no URL is given', () => {
    const err = gatewayError(() => store.backends.ensureDefaults({ modern: { url: MODERN_URL } }, serve));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/no legacy backend URL: give --legacy URL/);
    expect(store.backends.list()).toEqual([]);
  });

  it('throws CONFIG_INVALID for a missing modern default and writes nothing, not even the legacy one', () => {
    const err = gatewayError(() => store.backends.ensureDefaults({ legacy: { url: LEGACY_URL } }, serve));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/--modern URL \(or STRANGLER_MODERN_URL\)/);
    expect(store.backends.list()).toEqual([]);
  });
});
