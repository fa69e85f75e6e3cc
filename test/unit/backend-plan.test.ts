import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendSpec, backendSpecOf, desiredBackend, planBackendChanges, type DesiredBackend } from '../../src/backends/plan.js';
import { DEFAULT_BACKEND_SETTINGS, backendSettingsOf, type Backend } from '../../src/backends/schema.js';
import { GatewayError } from '../../src/errors.js';
import { RouteFile, desiredRoute, parseRouteFile, type DesiredRoute } from '../../src/routing/route-file.js';
import { RouteCreate, type ChangeMeta } from '../../src/routing/schema.js';
import { RouteStore } from '../../src/routing/store.js';

const LEGACY_URL = 'http://10.0.0.1:8080';
const MODERN_URL = 'http://10.0.0.2:8080';
const SVC_URL = 'http://10.0.0.5:9000';
const AT = '2030-01-01T00:00:00.000Z';

/** A stored backend for the pure planner; settings default to a modern backend at SVC_URL. */
function backend(name: string, fields: Partial<Backend> = {}): Backend {
  return {
    name,
    url: SVC_URL,
    role: 'modern',
    ...DEFAULT_BACKEND_SETTINGS,
    retryBudget: { ...DEFAULT_BACKEND_SETTINGS.retryBudget },
    version: 1,
    createdAt: AT,
    updatedAt: AT,
    ...fields,
  };
}

const desired = (spec: Record<string, unknown>): DesiredBackend => desiredBackend(BackendSpec.parse(spec));

describe('planBackendChanges', () => {
  it('plans a create for a backend the table does not have, with its complete settings', () => {
    const plan = planBackendChanges([], [desired({ name: 'orders-svc', url: SVC_URL })], false);
    expect(plan).toEqual({
      changes: [{ action: 'create', name: 'orders-svc', settings: backendSettingsOf(backend('orders-svc')) }],
      unmanaged: [],
    });
  });

  it('plans an update listing each changed field, with the version it starts from', () => {
    const current = [backend('orders-svc', { version: 3 })];
    const plan = planBackendChanges(current, [desired({ name: 'orders-svc', url: MODERN_URL, retryBudget: { percent: 10 } })], false);
    expect(plan.changes).toEqual([
      {
        action: 'update',
        name: 'orders-svc',
        version: 3,
        changes: [
          { field: 'url', from: SVC_URL, to: MODERN_URL },
          { field: 'retryBudget.percent', from: 20, to: 10 },
        ],
      },
    ]);
  });

  it('plans unchanged for a backend whose settings match', () => {
    const plan = planBackendChanges([backend('orders-svc', { version: 2 })], [desired({ name: 'orders-svc', url: SVC_URL })], false);
    expect(plan.changes).toEqual([{ action: 'unchanged', name: 'orders-svc', version: 2 }]);
  });

  it('without prune, leaves backends the file does not list alone and reports them as unmanaged', () => {
    const plan = planBackendChanges([backend('old-svc'), backend('orders-svc')], [desired({ name: 'orders-svc', url: SVC_URL })], false);
    expect(plan).toEqual({ changes: [{ action: 'unchanged', name: 'orders-svc', version: 1 }], unmanaged: ['old-svc'] });
  });

  it('with prune, deletes backends the file does not list', () => {
    const plan = planBackendChanges([backend('old-svc', { version: 4 }), backend('orders-svc')], [desired({ name: 'orders-svc', url: SVC_URL })], true);
    expect(plan.changes).toContainEqual({ action: 'delete', name: 'old-svc', version: 4 });
    expect(plan.unmanaged).toEqual([]);
  });

  it('never prunes the two defaults: they are listed as unmanaged instead', () => {
    const current = [backend('legacy', { role: 'legacy', url: LEGACY_URL }), backend('modern', { url: MODERN_URL }), backend('old-svc')];
    const plan = planBackendChanges(current, [], true);
    expect(plan).toEqual({ changes: [{ action: 'delete', name: 'old-svc', version: 1 }], unmanaged: ['legacy', 'modern'] });
  });
});

describe('desiredBackend and backendSpecOf', () => {
  it('desiredBackend fills in every default', () => {
    expect(desired({ name: 'orders-svc', url: SVC_URL })).toEqual({
      name: 'orders-svc',
      settings: { url: SVC_URL, role: 'modern', maxInFlight: 256, connectTimeoutMs: 5_000, connections: null, retryBudget: { percent: 20, minPerSecond: 5 }, hostHeader: 'client' },
    });
  });

  it('desiredBackend merges a partial retry budget over the default', () => {
    expect(desired({ name: 'x', url: SVC_URL, retryBudget: { minPerSecond: 0 } }).settings.retryBudget).toEqual({ percent: 20, minPerSecond: 0 });
  });

  it('backendSpecOf round-trips: the spec of a stored backend desires exactly its settings, and plans unchanged', () => {
    const stored = backend('monolith-2', { role: 'legacy', maxInFlight: 9, connectTimeoutMs: 750, connections: 4, retryBudget: { percent: 1, minPerSecond: 2 }, version: 7 });
    const spec = backendSpecOf(stored);
    expect(spec).toEqual({ name: 'monolith-2', ...backendSettingsOf(stored) });
    expect(BackendSpec.safeParse(spec).success).toBe(true);
    const again = desired(spec);
    expect(again.settings).toEqual(backendSettingsOf(stored));
    expect(planBackendChanges([stored], [again], true).changes).toEqual([{ action: 'unchanged', name: 'monolith-2', version: 7 }]);
  });
});

describe('RouteFile: the backends section', () => {
  /** The VALIDATION_FAILED message parseRouteFile throws for `document`. */
  function refusal(document: unknown): string {
    try {
      parseRouteFile(RouteFile, document);
    } catch (err) {
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe('VALIDATION_FAILED');
      return (err as GatewayError).message;
    }
    throw new Error('the file was accepted');
  }

  it('parses a file with a backends section, applying the defaults', () => {
    const file = parseRouteFile(RouteFile, { backends: [{ name: 'orders-svc', url: SVC_URL }], routes: [{ id: 'orders', pathPrefix: '/orders', modernBackend: 'orders-svc' }] });
    // The role is left to desiredBackend: modern, except for the backend named legacy.
    expect(file.backends).toEqual([{ name: 'orders-svc', url: SVC_URL, maxInFlight: 256, connectTimeoutMs: 5_000, connections: null, hostHeader: 'client' }]);
    expect(desiredBackend(file.backends![0]!).settings.role).toBe('modern');
    expect(desiredBackend({ ...file.backends![0]!, name: 'legacy' }).settings.role).toBe('legacy');
    expect(file.routes[0]!.modernBackend).toBe('orders-svc');
  });

  it('a file without a backends section leaves it undefined (backends are not managed)', () => {
    expect(parseRouteFile(RouteFile, { routes: [] }).backends).toBeUndefined();
  });

  it('refuses duplicate names, naming the later entry backends[1]', () => {
    const message = refusal({ backends: [{ name: 'orders-svc', url: SVC_URL }, { name: 'orders-svc', url: MODERN_URL }], routes: [] });
    expect(message).toBe('backends[1] (orders-svc).name: duplicate name "orders-svc" (also backends[0])');
  });

  it('refuses unknown fields in a backend entry, naming the entry', () => {
    const message = refusal({ backends: [{ name: 'orders-svc', url: SVC_URL, colour: 'red' }], routes: [] });
    expect(message).toMatch(/^backends\[0\] \(orders-svc\).*colour/);
  });

  it('refuses a reason in a backend entry (a file has one reason, given to apply)', () => {
    expect(refusal({ backends: [{ name: 'orders-svc', url: SVC_URL, reason: 'x' }], routes: [] })).toMatch(/^backends\[0\] \(orders-svc\).*reason/);
  });

  it('refuses an unknown field in a backend retry budget', () => {
    expect(refusal({ backends: [{ name: 'orders-svc', url: SVC_URL, retryBudget: { ratio: 0.2 } }], routes: [] })).toMatch(/^backends\[0\] \(orders-svc\)\.retryBudget.*ratio/);
  });
});

describe('RouteStore.apply with a backends section', () => {
  let t = Date.parse(AT);
  const clock = { now: () => (t += 1000) };
  let store: RouteStore;
  const ci: ChangeMeta = { actor: 'ci', reason: 'PR #9' };

  const DEFAULTS = [
    { name: 'legacy', url: LEGACY_URL, role: 'legacy' },
    { name: 'modern', url: MODERN_URL, role: 'modern' },
  ];

  /** A parsed route file: its desired routes and backends, as POST /apply passes them to the store. */
  function file(doc: { backends?: Record<string, unknown>[]; routes: Record<string, unknown>[] }): { routes: DesiredRoute[]; backends: DesiredBackend[] | undefined } {
    const parsed = parseRouteFile(RouteFile, doc);
    return { routes: parsed.routes.map(desiredRoute), backends: parsed.backends?.map(desiredBackend) };
  }
  const apply = (f: ReturnType<typeof file>, options: Partial<{ prune: boolean; dryRun: boolean }> = {}) =>
    store.apply(f.routes, { prune: false, dryRun: false, ...options, backends: f.backends }, ci);

  /** Routes, backends and every history row: what a refused or dry apply must leave alone. */
  function snapshot() {
    const routes = store.list();
    const backends = store.backends.list();
    return {
      routes,
      backends,
      routeHistory: routes.map((r) => store.history(r.id)),
      backendHistory: backends.map((b) => store.backends.history(b.name)),
    };
  }

  function refused(fn: () => unknown): GatewayError {
    const before = snapshot();
    let error: unknown;
    try {
      fn();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GatewayError);
    expect(snapshot()).toEqual(before);
    return error as GatewayError;
  }

  beforeEach(() => {
    store = RouteStore.open(':memory:', { clock });
    store.backends.ensureDefaults({ legacy: { url: LEGACY_URL }, modern: { url: MODERN_URL } }, { actor: 'serve' });
  });
  afterEach(() => store.close());

  it('creates a backend and a route using it in one apply', () => {
    const plan = apply(file({ backends: [...DEFAULTS, { name: 'orders-svc', url: SVC_URL }], routes: [{ id: 'orders', pathPrefix: '/orders', mode: 'modern', modernBackend: 'orders-svc' }] }));
    expect(plan.backends.changes.map((c) => `${c.action} ${c.name}`)).toEqual(['unchanged legacy', 'unchanged modern', 'create orders-svc']);
    expect(plan.changes.map((c) => `${c.action} ${c.id}`)).toEqual(['create orders']);
    expect(store.get('orders')).toMatchObject({ mode: 'modern', modernBackend: 'orders-svc' });
    expect(store.backends.usedBy('orders-svc')).toEqual(['orders']);
    expect(store.backends.history('orders-svc')[0]).toMatchObject({ action: 'create', version: 1, actor: 'ci', reason: 'PR #9' });
  });

  it('is all or nothing: a route naming a backend the file does not create is VALIDATION_FAILED and nothing is written', () => {
    store.create(RouteCreate.parse({ id: 'users', pathPrefix: '/users' }), ci);
    const listed = store.list();
    const err = refused(() =>
      apply(
        file({
          backends: [...DEFAULTS, { name: 'orders-svc', url: SVC_URL }],
          routes: [
            { id: 'users', pathPrefix: '/users', mode: 'modern', modernBackend: 'orders-svc' },
            { id: 'orders', pathPrefix: '/orders', modernBackend: 'missing-svc' },
          ],
        }),
      ),
    );
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toBe('routes[1] (orders).modernBackend: no backend named "missing-svc"');
    expect(store.list()).toEqual(listed);
    expect(store.backends.get('orders-svc')).toBeUndefined();
  });

  it('refuses a route naming a backend the file gives the other role', () => {
    const err = refused(() =>
      apply(file({ backends: [{ name: 'monolith-2', url: SVC_URL, role: 'legacy' }], routes: [{ id: 'orders', pathPrefix: '/orders', modernBackend: 'monolith-2' }] })),
    );
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toBe('routes[0] (orders).modernBackend: backend "monolith-2" has role legacy, not modern');
  });

  it('refuses pruning a backend a kept route still uses, and writes nothing', () => {
    apply(file({ backends: [...DEFAULTS, { name: 'old-svc', url: SVC_URL }], routes: [{ id: 'orders', pathPrefix: '/orders', modernBackend: 'old-svc' }] }));
    const err = refused(() =>
      apply(file({ backends: [...DEFAULTS, { name: 'new-svc', url: SVC_URL }], routes: [{ id: 'orders', pathPrefix: '/orders', modernBackend: 'old-svc', mode: 'modern' }] }), {
        prune: true,
      }),
    );
    expect(err.code).toBe('BACKEND_IN_USE');
    expect(err.message).toBe('routes[0] (orders).modernBackend: backend "old-svc" is in use, so it cannot be pruned');
    expect(store.backends.get('old-svc')).toBeDefined();
    expect(store.backends.get('new-svc')).toBeUndefined();
  });

  it('refuses a role change of a backend a route outside the file uses, with BACKEND_IN_USE', () => {
    store.backends.create({ name: 'orders-svc', url: SVC_URL }, ci);
    store.create(RouteCreate.parse({ id: 'orders', pathPrefix: '/orders', modernBackend: 'orders-svc' }), ci);
    const err = refused(() => apply(file({ backends: [{ name: 'orders-svc', url: SVC_URL, role: 'legacy' }], routes: [] })));
    expect(err.code).toBe('BACKEND_IN_USE');
    expect(err.message).toBe('route "orders" (not in the file).modernBackend: backend "orders-svc" has role legacy, not modern');
  });

  it('a dry run returns the plan and writes nothing', () => {
    const f = file({ backends: [...DEFAULTS, { name: 'orders-svc', url: SVC_URL }], routes: [{ id: 'orders', pathPrefix: '/orders', modernBackend: 'orders-svc' }] });
    let notified = 0;
    store.onChange(() => notified++);
    const before = snapshot();
    const plan = apply(f, { dryRun: true, prune: true });
    expect(plan.backends.changes.filter((c) => c.action !== 'unchanged')).toEqual([{ action: 'create', name: 'orders-svc', settings: expect.objectContaining({ url: SVC_URL }) }]);
    expect(plan.changes).toEqual([expect.objectContaining({ action: 'create', id: 'orders' })]);
    expect(snapshot()).toEqual(before);
    expect(notified).toBe(0);
  });

  it('applying the same file twice makes no new versions or history rows', () => {
    const f = file({
      backends: [...DEFAULTS, { name: 'orders-svc', url: SVC_URL, retryBudget: { percent: 5 } }, { name: 'monolith-2', url: SVC_URL, role: 'legacy', connections: 3 }],
      routes: [{ id: 'orders', pathPrefix: '/orders', legacyBackend: 'monolith-2', modernBackend: 'orders-svc' }],
    });
    apply(f, { prune: true });
    const before = snapshot();
    const again = apply(f, { prune: true });
    expect(again.backends.changes.every((c) => c.action === 'unchanged')).toBe(true);
    expect(again.changes.every((c) => c.action === 'unchanged')).toBe(true);
    expect(snapshot()).toEqual(before);
  });

  it('moves routes off a backend and prunes it in one apply', () => {
    apply(file({ backends: [...DEFAULTS, { name: 'old-svc', url: SVC_URL }], routes: [{ id: 'orders', pathPrefix: '/orders', modernBackend: 'old-svc' }, { id: 'users', pathPrefix: '/users', modernBackend: 'old-svc' }] }));
    const plan = apply(
      file({
        backends: [...DEFAULTS, { name: 'new-svc', url: MODERN_URL }],
        routes: [
          { id: 'orders', pathPrefix: '/orders', modernBackend: 'new-svc' },
          { id: 'users', pathPrefix: '/users' },
        ],
      }),
      { prune: true },
    );
    expect(plan.backends.changes.filter((c) => c.action !== 'unchanged').map((c) => `${c.action} ${c.name}`)).toEqual(['create new-svc', 'delete old-svc']);
    expect(store.list().map((r) => [r.id, r.modernBackend, r.version])).toEqual([
      ['orders', 'new-svc', 2],
      ['users', 'modern', 2],
    ]);
    expect(store.backends.get('old-svc')).toBeUndefined();
    expect(store.backends.history('old-svc')[0]).toMatchObject({ action: 'delete', version: 2, actor: 'ci' });
  });

  it('updates a backend in the file and changes the role of one whose routes move off it in the same apply', () => {
    apply(file({ backends: [...DEFAULTS, { name: 'svc', url: SVC_URL }], routes: [{ id: 'orders', pathPrefix: '/orders', modernBackend: 'svc' }] }));
    apply(file({ backends: [...DEFAULTS, { name: 'svc', url: SVC_URL, role: 'legacy' }], routes: [{ id: 'orders', pathPrefix: '/orders', legacyBackend: 'svc' }] }));
    expect(store.backends.get('svc')).toMatchObject({ role: 'legacy', version: 2 });
    expect(store.get('orders')).toMatchObject({ legacyBackend: 'svc', modernBackend: 'modern' });
  });

  it('without a backends section, leaves every backend alone even with prune', () => {
    store.backends.create({ name: 'orders-svc', url: SVC_URL }, ci);
    const plan = apply(file({ routes: [{ id: 'orders', pathPrefix: '/orders', modernBackend: 'orders-svc' }] }), { prune: true });
    expect(plan.backends).toEqual({ changes: [], unmanaged: [] });
    expect(store.backends.list().map((b) => b.name)).toEqual(['legacy', 'modern', 'orders-svc']);
  });

  it('refuses a file that changes a default backend\'s role with BACKEND_REQUIRED, writing nothing', () => {
    const err = refused(() => apply(file({ backends: [{ name: 'modern', url: MODERN_URL, role: 'legacy' }], routes: [] })));
    expect(err.code).toBe('BACKEND_REQUIRED');
  });

  /*
   * The default backends' fixed roles are checked while planning, so a dry run refuses what
   * the apply refuses.
   */
  it('a dry run refuses a file that changes a default backend\'s role, as the apply does', () => {
    const err = refused(() => apply(file({ backends: [{ name: 'modern', url: MODERN_URL, role: 'legacy' }], routes: [] }), { dryRun: true }));
    expect(err.code).toBe('BACKEND_REQUIRED');
  });
});

