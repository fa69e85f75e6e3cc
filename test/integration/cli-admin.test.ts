import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminCli } from '../helpers/cli.js';
import { admin, startTestGateway, tempDir, type TestGateway } from '../helpers/servers.js';

let gw: TestGateway;
let temp: ReturnType<typeof tempDir>;

beforeEach(async () => {
  gw = await startTestGateway();
  temp = tempDir();
});
afterEach(async () => {
  await gw.stop();
  temp.cleanup();
});

const { cli, ok, json } = adminCli(() => gw.adminUrl);

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function writeFile(name: string, content: string): string {
  const path = join(temp.dir, name);
  writeFileSync(path, content);
  return path;
}

const side = async (path: string, headers: Record<string, string> = {}) =>
  (await fetch(gw.proxyUrl + path, { headers })).headers.get('x-strangler-backend');

describe('strangler routes', () => {
  it('add, list, get, set, flip, rollback, history and rm, as text and as JSON', async () => {
    expect(await ok(['routes', 'add', 'orders', '--prefix', '/orders', '--reason', 'first cut'])).toBe('orders v1: /orders → legacy');
    const added = await json(['routes', 'add', 'users', '--prefix', '/users', '--mode', 'canary', '--canary-percent', '10', '--set', 'resilience.retries=2', '--set', 'resilience.fallthroughStatuses=[404,501]', '--set', 'resilience.breaker.slowCallMs=800', '--set', 'resilience.hedgeAfterMs=200']);
    expect(added).toMatchObject({ id: 'users', mode: 'canary', canaryPercent: 10, resilience: { retries: 2, fallthroughStatuses: [404, 501], hedgeAfterMs: 200, breaker: { slowCallMs: 800 } } });

    const list = await ok(['routes', 'list']);
    expect(list.split('\n')).toEqual([
      expect.stringMatching(/^ID\s+PREFIX\s+STAGE\s+MODE\s+CANARY\s+VERSION\s+UPDATED$/),
      expect.stringMatching(/^orders\s+\/orders\s+legacy\s+legacy\s+-\s+1\s+\d{4}-/),
      expect.stringMatching(/^users\s+\/users\s+canary\s+canary\s+10%\s+1\s+\d{4}-/),
    ]);
    expect((await json(['routes', 'list'])).routes.map((r: any) => r.id)).toEqual(['orders', 'users']);
    expect(await ok(['routes', 'get', 'users'])).toMatch(/^resilience\.breaker\.slowCallMs\s+800$/m);
    expect((await json(['routes', 'get', 'users'])).version).toBe(1);

    expect(await ok(['routes', 'set', 'orders', '--mode', 'canary', '--canary-percent', '50', '--actor', 'alice', '--if-version', '1'])).toBe('orders v2: /orders → canary 50% modern');
    expect(await ok(['routes', 'flip', 'orders', 'modern', '--reason', 'all good'])).toBe('orders v3: /orders → modern');
    expect(await ok(['routes', 'flip', 'orders', 'canary'])).toBe('orders v4: /orders → canary 50% modern');
    expect(await ok(['routes', 'flip', 'orders', 'legacy'])).toBe('orders v5: /orders → legacy');
    expect((await json(['routes', 'rollback', 'orders', '--to-version', '3'])).mode).toBe('modern');

    const history = (await ok(['routes', 'history', 'orders'])).split('\n');
    expect(history[0]).toMatch(/^VERSION\s+ACTION\s+AT\s+ACTOR\s+REASON\s+CHANGES$/);
    expect(history[1]).toMatch(/^6\s+rollback\s+.*mode legacy → modern, stage legacy → modern$/);
    expect(history).toContainEqual(expect.stringMatching(/^3\s+flip\s+\S+\s+\S+\s+all good\s+mode canary → modern, stage canary → modern$/));
    expect(history).toContainEqual(expect.stringMatching(/^2\s+update\s+\S+\s+alice\s+-\s+mode legacy → canary, canaryPercent 0 → 50, stage legacy → canary$/));
    expect(history.at(-1)).toMatch(/^1\s+create\s+\S+\s+\S+@\S+\s+first cut\s+created$/);
    expect((await json(['routes', 'history', 'orders'])).history).toHaveLength(6);

    expect(await ok(['routes', 'rm', 'users'])).toBe('deleted route users');
    expect((await admin(gw, 'GET', '/routes/users')).status).toBe(404);
  });

  it('prints the API error message as is and exits 1', async () => {
    await ok(['routes', 'add', 'orders', '--prefix', '/orders']);
    const results = await Promise.all([
      cli(['routes', 'get', 'nope']),
      cli(['routes', 'add', 'dup', '--prefix', '/orders']),
      cli(['routes', 'set', 'orders', '--canary-percent', '500']),
      cli(['routes', 'set', 'orders', '--mode', 'modern', '--if-version', '7']),
      cli(['routes', 'rollback', 'orders']),
      cli(['breakers', 'reset', 'nope']),
    ]);
    expect(results.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
      [1, '', 'strangler: no route "nope" (ROUTE_NOT_FOUND)'],
      [1, '', 'strangler: route "orders" already has path prefix /orders (DUPLICATE_PATH)'],
      [1, '', 'strangler: canaryPercent: Too big: expected number to be <=100 (VALIDATION_FAILED)'],
      [1, '', 'strangler: route "orders" is at version 1, not 7; re-read it and try again (VERSION_CONFLICT)'],
      [1, '', 'strangler: route "orders" has no version before 1 (NO_PREVIOUS_VERSION)'],
      [1, '', 'strangler: no route "nope" (ROUTE_NOT_FOUND)'],
    ]);
  });

  it('usage errors exit 2 with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['routes'], /usage: strangler routes list\|get\|add/],
      [['routes', 'get'], /usage: strangler routes get <id>/],
      [['routes', 'add', 'x'], /--prefix is required/],
      [['routes', 'add', 'x', '--prefix', '/x', '--canary-percent', 'ten'], /--canary-percent: must be an integer \(got "ten"\)/],
      [['routes', 'set', 'x'], /nothing to change/],
      [['routes', 'set', 'x', '--set', 'retries'], /--set: expected path=value/],
      [['routes', 'flip', 'x', 'sideways'], /legacy, modern or canary \(got "sideways"\)/],
      [['routes', 'list', '--admin-url', 'ftp://x'], /--admin-url \(or STRANGLER_ADMIN_URL\): must be an http/],
      [['routes', 'list', '--admin-token', 'secret'], /Unknown option '--admin-token'/],
      [['breakers', 'reset'], /usage: strangler breakers/],
      [['apply'], /-f <file> is required/],
      [['export', 'extra'], /usage: strangler export/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((result, i) => {
      expect(result.code, cases[i]![0].join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^strangler: [^\n]+$/);
      expect(result.stderr).toMatch(cases[i]![1]);
    });
  });

  it('says clearly when the gateway cannot be reached, exit 1', async () => {
    const closed = await closedPort();
    const result = await cli(['routes', 'list'], { STRANGLER_ADMIN_URL: `http://127.0.0.1:${closed}` });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^strangler: cannot reach the admin API at http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\); is the gateway running\?/);
  });

  it('sends the token from STRANGLER_ADMIN_TOKEN', async () => {
    await gw.stop();
    gw = await startTestGateway({ config: { adminToken: 'a-long-enough-admin-token' } });
    expect(await cli(['routes', 'list'])).toMatchObject({ code: 1, stderr: 'strangler: A valid bearer token is required (UNAUTHORIZED)' });
    expect(await cli(['routes', 'list'], { STRANGLER_ADMIN_TOKEN: 'a-long-enough-admin-token' })).toMatchObject({ code: 0 });
  });
});

describe('strangler breakers', () => {
  it('lists every route breaker and resets one', async () => {
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern' });
    const table = (await ok(['breakers'])).split('\n');
    expect(table).toEqual([
      expect.stringMatching(/^ROUTE\s+PREFIX\s+STATE\s+FAILURES\s+CALLS\s+RATE\s+NEXT PROBE$/),
      expect.stringMatching(/^orders\s+\/orders\s+closed\s+0\s+0\s+0%\s+-$/),
    ]);
    expect((await json(['breakers'])).breakers[0]).toMatchObject({ routeId: 'orders', state: 'closed' });
    expect(await ok(['breakers', 'reset', 'orders'])).toBe('breaker of orders reset: closed');
    expect(await json(['breakers', 'reset', 'orders'])).toMatchObject({ routeId: 'orders', state: 'closed' });
  });
});

describe('strangler export and apply', () => {
  const versions = async () => (await admin(gw, 'GET', '/routes')).body.routes.map((r: any) => `${r.id}@${r.version}`);

  it('export then apply changes nothing; an edited file is planned, dry-run first, then applied once', async () => {
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', resilience: { retries: 3 } });
    await admin(gw, 'POST', '/routes', { id: 'old', pathPrefix: '/old' });
    const exported = await ok(['export']);
    expect(parse(exported).routes.map((r: any) => r.id)).toEqual(['old', 'orders']);
    expect((await json(['export'])).routes[1]).toMatchObject({ id: 'orders', resilience: { retries: 3 } });
    const file = writeFile('routes.yaml', exported);
    expect(await ok(['apply', '-f', file])).toBe('plan: 0 to create, 0 to update, 0 to delete, 2 unchanged\nnothing to do');

    const doc = parse(exported);
    Object.assign(doc.routes[0], { id: 'users', pathPrefix: '/users' });
    doc.routes[1].resilience.retries = 2;
    const edited = writeFile('edited.yaml', stringify(doc));
    const before = await versions();
    const dry = await ok(['apply', '-f', edited, '--dry-run', '--prune']);
    expect(dry).toBe(
      [
        '- delete old (v1)',
        '~ update orders (v1)',
        '    resilience.retries: 3 → 2',
        '+ create users (/users, legacy)',
        'plan: 1 to create, 1 to update, 1 to delete, 0 unchanged',
        'dry run: nothing changed',
      ].join('\n'),
    );
    expect(await versions()).toEqual(before);

    const applied = await json(['apply', '-f', edited, '--prune', '--reason', 'PR #7', '--actor', 'ci']);
    expect(applied).toMatchObject({ applied: true, plan: { unmanaged: [] } });
    expect(await versions()).toEqual(['orders@2', 'users@1']);
    expect((await admin(gw, 'GET', '/routes/orders/history')).body.history[0]).toMatchObject({ actor: 'ci', reason: 'PR #7', version: 2 });

    expect(await ok(['apply', '-f', edited, '--prune'])).toMatch(/0 to create, 0 to update, 0 to delete, 2 unchanged\nnothing to do$/);
    expect(await versions()).toEqual(['orders@2', 'users@1']);
  });

  it('without --prune, routes missing from the file are left alone and listed', async () => {
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders' });
    const file = writeFile('one.yaml', 'routes:\n  - id: users\n    pathPrefix: /users\n');
    expect(await ok(['apply', '-f', file])).toMatch(/^\+ create users \(\/users, legacy\)\n.*\nnot in the file, left alone \(--prune deletes them\): orders\napplied$/);
  });

  it('a file with an invalid entry changes nothing and names the entry and field (exit 1)', async () => {
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders' });
    const before = await versions();
    const file = writeFile('bad.yaml', 'routes:\n  - id: orders\n    pathPrefix: /orders\n    mode: modern\n  - id: users\n    pathPrefix: /users\n    canaryPercent: 150\n');
    const result = await cli(['apply', '-f', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`strangler: ${file}: routes[1] (users).canaryPercent: Too big: expected number to be <=100`);
    expect(await versions()).toEqual(before);

    const notYaml = await cli(['apply', '-f', writeFile('broken.yaml', 'routes: [\n')]);
    expect(notYaml.code).toBe(1);
    expect(notYaml.stderr).toMatch(/is not valid YAML or JSON: /);
    expect((await cli(['apply', '-f', join(temp.dir, 'missing.yaml')])).stderr).toMatch(/^strangler: cannot read .*missing\.yaml: ENOENT/);
  });

  it('the server validates too: POST /apply with an invalid entry is a 400 naming it, and nothing changes', async () => {
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders' });
    const before = await versions();
    const res = await admin(gw, 'POST', '/apply', {
      routes: [
        { id: 'orders', pathPrefix: '/orders', mode: 'modern' },
        { id: 'users', pathPrefix: '/users', stickyKey: 'header:X-Upper' },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: 'routes[1] (users).stickyKey' }] });
    expect(await versions()).toEqual(before);
    const conflict = await admin(gw, 'POST', '/apply', { routes: [{ id: 'other', pathPrefix: '/orders' }] });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('DUPLICATE_PATH');
    expect(await versions()).toEqual(before);
  });

  it('reads the file from stdin with -f -', async () => {
    const result = await cli(['apply', '-f', '-', '--json'], {}, 'routes:\n  - { id: users, pathPrefix: /users, mode: modern }\n');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).plan.changes).toEqual([expect.objectContaining({ action: 'create', id: 'users' })]);
    expect(await side('/users')).toBe('modern');
  });
});

describe('running a migration from the CLI (the README walk-through)', () => {
  it('add, canary 10 → 50 → 100, flip back', async () => {
    const user = (n: number) => ({ cookie: `strangler_canary=user-${n}` });
    const modernShare = async () => {
      const sides = await Promise.all(Array.from({ length: 100 }, (_, n) => side(`/orders/${n}`, user(n))));
      return sides.filter((s) => s === 'modern').length / sides.length;
    };
    await ok(['routes', 'add', 'orders', '--prefix', '/orders', '--reason', 'start migrating orders']);
    expect(await side('/orders/1')).toBe('legacy');
    await ok(['routes', 'set', 'orders', '--mode', 'canary', '--canary-percent', '10']);
    const at10 = await modernShare();
    await ok(['routes', 'set', 'orders', '--canary-percent', '50']);
    const at50 = await modernShare();
    const watched = (await ok(['status'])).split('\n').filter(Boolean);
    expect(watched[0]).toBe('routes: 1 (legacy 0, canary 1, modern 0, shadow 0)');
    expect(watched[1]).toMatch(/^last \d+ s: 201 requests \(.*\/s\), [\d.]+% served by modern$/);
    expect(watched[2]).toMatch(/^ROUTE\s+PREFIX\s+MODE\s+MODERN%\s+BREAKER\s+MATCH\s+SIDE\s+BACKEND\s+REQ\s+REQ\/S\s+ERRORS\s+P50\s+P99\s+FALLBACK$/);
    expect(watched[3]).toMatch(/^orders\s+\/orders\s+canary\s+50\s+closed\s+-\s+legacy\s+legacy\s+\d+\s+[\d.]+\s+0%\s+[\d.]+ ms\s+[\d.]+ ms\s+-$/);
    expect(watched[4]).toMatch(/^\s+modern\s+modern\s+\d+\s+[\d.]+\s+0%\s+[\d.]+ ms\s+[\d.]+ ms\s+0%$/);
    const status = await json(['status']);
    const orders = status.perRoute[0];
    expect(orders.legacy.requests + orders.modern.requests).toBe(201); // one before the canary, 100 at 10%, 100 at 50%
    expect(status.traffic.modernShare).toBeCloseTo(orders.modern.requests / 201, 3);
    await ok(['routes', 'set', 'orders', '--canary-percent', '100']);
    expect(await modernShare()).toBe(1);
    expect(at10).toBeGreaterThan(0.02);
    expect(at10).toBeLessThan(0.25);
    expect(at50).toBeGreaterThan(0.35);
    expect(at50).toBeLessThan(0.65);
    await ok(['routes', 'flip', 'orders', 'modern']);
    await ok(['routes', 'flip', 'orders', 'legacy', '--reason', 'modern 5xx spike']);
    expect(await modernShare()).toBe(0);
    const history = await json(['routes', 'history', 'orders']);
    expect(history.history.map((h: any) => h.action)).toEqual(['flip', 'flip', 'update', 'update', 'update', 'create']);
  });
});
