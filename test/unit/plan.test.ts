import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { diffSettings, hasChanges, planChanges } from '../../src/routing/plan.js';
import {
  ApplyRequest,
  RouteFile,
  desiredRoute,
  parseRouteFile,
  settingsOf,
  specOf,
} from '../../src/routing/route-file.js';
import { DEFAULT_RESILIENCE, ResilienceSettings, RouteSettings } from '../../src/routing/schema.js';
import { route } from '../helpers/routes.js';

const desired = (id: string, pathPrefix: string, extra: Record<string, unknown> = {}) =>
  desiredRoute(RouteFile.parse({ routes: [{ id, pathPrefix, ...extra }] }).routes[0]!);

describe('planChanges', () => {
  const orders = route('/orders', { id: 'orders', version: 3 });
  const users = route('/users', { id: 'users', version: 1 });

  it('creates what is missing, updates what differs, leaves the rest unchanged', () => {
    const plan = planChanges(
      [orders, users],
      [desired('orders', '/orders', { mode: 'canary', canaryPercent: 10 }), desired('users', '/users'), desired('payments', '/payments')],
      false,
    );
    expect(plan.changes).toEqual([
      {
        action: 'update',
        id: 'orders',
        version: 3,
        changes: [
          { field: 'mode', from: 'legacy', to: 'canary' },
          { field: 'canaryPercent', from: 0, to: 10 },
          { field: 'stage', from: 'legacy', to: 'canary' },
        ],
      },
      { action: 'create', id: 'payments', settings: desired('payments', '/payments').settings },
      { action: 'unchanged', id: 'users', version: 1 },
    ]);
    expect(plan.unmanaged).toEqual([]);
    expect(hasChanges(plan)).toBe(true);
  });

  it('leaves routes the file omits alone, unless prune deletes them (deletes first)', () => {
    const current = [orders, users];
    expect(planChanges(current, [desired('users', '/users')], false)).toEqual({
      changes: [{ action: 'unchanged', id: 'users', version: 1 }],
      unmanaged: ['orders'],
    });
    const pruned = planChanges(current, [desired('users', '/users'), desired('new', '/new')], true);
    expect(pruned.changes.map((c) => `${c.action} ${c.id}`)).toEqual(['delete orders', 'create new', 'unchanged users']);
    expect(pruned.unmanaged).toEqual([]);
  });

  it('a file equal to the table plans nothing', () => {
    const plan = planChanges([orders, users], [orders, users].map((r) => desiredRoute(specOf(r))), true);
    expect(hasChanges(plan)).toBe(false);
  });

  it('an omitted setting means its default, so a file is the whole truth about a route', () => {
    const tuned = route('/orders', { id: 'orders', timeoutMs: 5_000, resilience: { ...DEFAULT_RESILIENCE, retries: 3 } });
    const plan = planChanges([tuned], [desired('orders', '/orders')], false);
    expect(plan.changes[0]).toMatchObject({
      action: 'update',
      changes: [
        { field: 'timeoutMs', from: 5_000, to: 30_000 },
        { field: 'resilience.retries', from: 3, to: 1 },
      ],
    });
  });
});

describe('diffSettings', () => {
  it('names nested fields by dotted path and compares arrays whole', () => {
    const a = settingsOf(route('/a'));
    const b: RouteSettings = {
      ...a,
      resilience: { ...a.resilience, fallthroughStatuses: [404], breaker: { ...a.resilience.breaker, slowCallMs: 500 } },
    };
    expect(diffSettings(a, b)).toEqual([
      { field: 'resilience.fallthroughStatuses', from: [], to: [404] },
      { field: 'resilience.breaker.slowCallMs', from: null, to: 500 },
    ]);
    expect(diffSettings(a, a)).toEqual([]);
  });
});

describe('hedge settings', () => {
  it('show in the plan diff by their dotted paths and round-trip through a route file', () => {
    const current = route('/orders', { id: 'orders', version: 2 });
    const want = desired('orders', '/orders', { resilience: { hedgeAfterMs: 200, hedgePercentile: 95 } });
    expect(planChanges([current], [want], false).changes).toEqual([
      {
        action: 'update',
        id: 'orders',
        version: 2,
        changes: [
          { field: 'resilience.hedgeAfterMs', from: null, to: 200 },
          { field: 'resilience.hedgePercentile', from: null, to: 95 },
        ],
      },
    ]);
    const applied = { ...current, ...want.settings };
    const spec = parseRouteFile(RouteFile, JSON.parse(JSON.stringify({ routes: [specOf(applied)] }))).routes[0]!;
    expect(desiredRoute(spec).settings.resilience).toMatchObject({ hedgeAfterMs: 200, hedgePercentile: 95 });
  });

  it('read as off from resilience settings stored before hedging existed', () => {
    const { hedgeAfterMs: _a, hedgePercentile: _p, ...stored } = DEFAULT_RESILIENCE;
    expect(ResilienceSettings.parse(stored)).toEqual(DEFAULT_RESILIENCE);
  });

  it('refuse a percentile without hedgeAfterMs, its cap, naming the entry and field (a 400, never a 500)', () => {
    const spec = RouteFile.parse({ routes: [{ id: 'a', pathPrefix: '/a', resilience: { hedgePercentile: 95 } }] }).routes[0]!;
    let caught: unknown;
    try {
      desiredRoute(spec, 3);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(GatewayError);
    expect((caught as GatewayError).code).toBe('VALIDATION_FAILED');
    expect((caught as GatewayError).message).toMatch(/^routes\[3\] \(a\)\.resilience\.hedgePercentile: needs resilience\.hedgeAfterMs/);
    expect(() => ResilienceSettings.parse({ ...DEFAULT_RESILIENCE, hedgePercentile: 95 })).toThrow(/hedgeAfterMs/);
    expect(ResilienceSettings.parse({ ...DEFAULT_RESILIENCE, hedgeAfterMs: 300, hedgePercentile: 95 }).hedgePercentile).toBe(95);
  });
});

describe('route files', () => {
  function validationError(schema: typeof RouteFile | typeof ApplyRequest, input: unknown): string {
    try {
      parseRouteFile(schema, input);
    } catch (err) {
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe('VALIDATION_FAILED');
      return (err as GatewayError).message;
    }
    throw new Error('expected a validation error');
  }

  it('names the entry by index and id, and the field', () => {
    const message = validationError(RouteFile, {
      routes: [
        { id: 'a', pathPrefix: '/a' },
        { id: 'b', pathPrefix: '/b', canaryPercent: 101 },
        { id: 'BAD', pathPrefix: '/c/' },
      ],
    });
    expect(message).toMatch(/^routes\[1\] \(b\)\.canaryPercent: /);
    expect(message).toMatch(/routes\[2\]\.id: must be 1-64 characters/);
    expect(message).toMatch(/routes\[2\]\.pathPrefix: must be a normalised absolute path/);
  });

  it('refuses duplicate ids and prefixes, naming the later entry and the earlier one', () => {
    const message = validationError(RouteFile, {
      routes: [
        { id: 'a', pathPrefix: '/a' },
        { id: 'a', pathPrefix: '/b' },
        { id: 'c', pathPrefix: '/a' },
      ],
    });
    expect(message).toBe('routes[1] (a).id: duplicate id "a" (also routes[0]); routes[2] (c).pathPrefix: duplicate pathPrefix "/a" (also routes[0])');
  });

  it('refuses unknown fields (a typo must not be silently ignored) and a missing id', () => {
    expect(validationError(RouteFile, { routes: [{ id: 'a', pathPrefix: '/a', canaryPercnt: 5 }] })).toMatch(/routes\[0\] \(a\): Unrecognized key: "canaryPercnt"/);
    expect(validationError(RouteFile, { routes: [{ pathPrefix: '/a' }] })).toMatch(/routes\[0\]\.id: /);
    expect(validationError(RouteFile, { route: [] })).toMatch(/Unrecognized key|routes/);
    expect(validationError(ApplyRequest, { routes: [], prune: 'yes' })).toMatch(/^prune: /);
  });

  it('an exported route reads back as the same settings', () => {
    const r = route('/orders', { id: 'orders', mode: 'canary', canaryPercent: 25, stickyKey: 'header:x-user-id' });
    const spec = parseRouteFile(RouteFile, JSON.parse(JSON.stringify({ routes: [specOf(r)] }))).routes[0]!;
    expect(desiredRoute(spec)).toEqual({ id: 'orders', settings: settingsOf(r) });
  });

  it('settingsOf takes exactly the RouteSettings fields', () => {
    expect(Object.keys(settingsOf(route('/a'))).sort()).toEqual(Object.keys(RouteSettings.shape).sort());
  });
});
