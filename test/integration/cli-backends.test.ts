import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminCli } from '../helpers/cli.js';
import { admin, startBackend, startTestGateway, tempDir, type StubBackend, type TestGateway } from '../helpers/servers.js';

/** `strangler backends …`, `routes add --modern-backend` and route files with a backends section, against a real gateway. */

/** Each CLI call is a Node process with tsx; on a busy 2-core machine a dozen of them take a while. */
const SLOW = { timeout: 60_000 };

let gw: TestGateway;
let svc: StubBackend;
let temp: ReturnType<typeof tempDir>;

beforeEach(async () => {
  gw = await startTestGateway();
  svc = await startBackend('orders-svc');
  temp = tempDir();
});
afterEach(async () => {
  await gw.stop();
  await svc.close();
  temp.cleanup();
});

const { cli, ok, json } = adminCli(() => gw.adminUrl);

function writeFile(name: string, content: string): string {
  const path = join(temp.dir, name);
  writeFileSync(path, content);
  return path;
}

/** Which named backend answered a data-plane request, and which stub says it served it. */
async function servedBy(path: string): Promise<{ status: number; upstream: string | null; stub: string }> {
  const res = await fetch(gw.proxyUrl + path);
  const body = (await res.json()) as { servedBy: string };
  return { status: res.status, upstream: res.headers.get('x-strangler-upstream'), stub: body.servedBy };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('strangler backends', SLOW, () => {
  it('list shows the two defaults as a table and as JSON', async () => {
    const [text, asJson] = await Promise.all([ok(['backends', 'list']), json(['backends', 'list'])]);
    expect(text.split('\n')).toEqual([
      expect.stringMatching(/^NAME\s+ROLE\s+URL\s+IN FLIGHT\s+ROUTES\s+VERSION$/),
      expect.stringMatching(new RegExp(`^legacy\\s+legacy\\s+${escape(gw.legacy.url)}\\s+0/256\\s+-\\s+1$`)),
      expect.stringMatching(new RegExp(`^modern\\s+modern\\s+${escape(gw.modern.url)}\\s+0/256\\s+-\\s+1$`)),
    ]);
    expect(asJson.backends.map((b: any) => [b.name, b.role, b.url, b.inFlight, b.routes])).toEqual([
      ['legacy', 'legacy', gw.legacy.url, 0, []],
      ['modern', 'modern', gw.modern.url, 0, []],
    ]);
  });

  it('add, get, set, history and rm, as text and as JSON', async () => {
    expect(await ok(['backends', 'add', 'orders-svc', '--url', svc.url, '--reason', 'split orders'])).toBe(`backend orders-svc v1: modern ${svc.url}`);
    const added = await json(['backends', 'add', 'monolith-2', '--url', gw.legacy.url, '--role', 'legacy', '--max-in-flight', '10', '--set', 'retryBudget.percent=10', '--set', 'connections=4']);
    expect(added).toMatchObject({ name: 'monolith-2', role: 'legacy', maxInFlight: 10, connections: 4, retryBudget: { percent: 10, minPerSecond: 5 }, version: 1, inFlight: 0, routes: [] });

    const got = await ok(['backends', 'get', 'monolith-2']);
    expect(got).toMatch(/^name\s+monolith-2$/m);
    expect(got).toMatch(/^retryBudget\.percent\s+10$/m);
    expect(got).toMatch(/^inFlight\s+0$/m);
    expect((await json(['backends', 'get', 'orders-svc'])).connectTimeoutMs).toBe(5_000);

    expect(await ok(['backends', 'set', 'orders-svc', '--url', gw.modern.url, '--if-version', '1', '--actor', 'alice'])).toBe(`backend orders-svc v2: modern ${gw.modern.url}`);
    expect((await json(['backends', 'set', 'orders-svc', '--set', 'connectTimeoutMs=2000'])).version).toBe(3);

    const history = (await ok(['backends', 'history', 'orders-svc'])).split('\n');
    expect(history[0]).toMatch(/^VERSION\s+ACTION\s+AT\s+ACTOR\s+REASON\s+CHANGES$/);
    expect(history[1]).toMatch(/^3\s+update\s+.*connectTimeoutMs 5000 → 2000$/);
    expect(history[2]).toMatch(new RegExp(`^2\\s+update\\s+\\S+\\s+alice\\s+-\\s+url ${escape(svc.url)} → ${escape(gw.modern.url)}$`));
    expect(history[3]).toMatch(/^1\s+create\s+\S+\s+\S+\s+split orders\s+created$/);
    expect((await json(['backends', 'history', 'orders-svc'])).history.map((h: any) => h.version)).toEqual([3, 2, 1]);

    expect(await ok(['backends', 'rm', 'monolith-2'])).toBe('deleted backend monolith-2');
    expect(await json(['backends', 'rm', 'orders-svc', '--if-version', '3'])).toEqual({ deleted: 'orders-svc' });
    expect((await admin(gw, 'GET', '/backends/monolith-2')).status).toBe(404);
    expect((await json(['backends', 'history', 'orders-svc'])).history[0]).toMatchObject({ version: 4, action: 'delete' });
  });

  it('rm of a backend a route uses exits 1 with the API message and code BACKEND_IN_USE', async () => {
    await ok(['backends', 'add', 'orders-svc', '--url', svc.url]);
    await ok(['routes', 'add', 'orders', '--prefix', '/orders', '--modern-backend', 'orders-svc']);
    const result = await cli(['backends', 'rm', 'orders-svc']);
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'strangler: backend "orders-svc" is used by route "orders"; move them to another backend first (BACKEND_IN_USE)' });
    expect((await admin(gw, 'GET', '/backends/orders-svc')).status).toBe(200);
  });

  it('prints other API errors as is and exits 1', async () => {
    await ok(['backends', 'add', 'orders-svc', '--url', svc.url]);
    const results = await Promise.all([
      cli(['backends', 'get', 'nope']),
      cli(['backends', 'add', 'orders-svc', '--url', svc.url]),
      cli(['backends', 'set', 'orders-svc', '--max-in-flight', '5', '--if-version', '7']),
      cli(['backends', 'rm', 'legacy']),
      cli(['backends', 'set', 'modern', '--role', 'legacy']),
      cli(['backends', 'add', 'bad', '--url', 'ftp://x']),
      cli(['routes', 'add', 'users', '--prefix', '/users', '--modern-backend', 'missing-svc']),
    ]);
    expect(results.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
      [1, '', 'strangler: no backend "nope" (BACKEND_NOT_FOUND)'],
      [1, '', 'strangler: a backend named "orders-svc" already exists (DUPLICATE_BACKEND)'],
      [1, '', 'strangler: backend "orders-svc" is at version 1, not 7; re-read it and try again (VERSION_CONFLICT)'],
      [1, '', expect.stringMatching(/^strangler: backend "legacy" is one of the two every gateway has; .* \(BACKEND_REQUIRED\)$/)],
      [1, '', expect.stringMatching(/^strangler: backend "modern" is the default modern backend and keeps that role \(BACKEND_REQUIRED\)$/)],
      [1, '', 'strangler: url: must be an http:// or https:// URL (VALIDATION_FAILED)'],
      [1, '', 'strangler: modernBackend: no backend named "missing-svc" (VALIDATION_FAILED)'],
    ]);
  });

  it('usage errors exit 2 with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['backends'], /usage: strangler backends list\|get\|add\|set\|history\|rm/],
      [['backends', 'frobnicate'], /usage: strangler backends list\|get/],
      [['backends', 'get'], /usage: strangler backends get <name>/],
      [['backends', 'list', 'extra'], /usage: strangler backends list/],
      [['backends', 'add', 'x'], /backends add: --url is required/],
      [['backends', 'add', 'x', '--url', 'http://h', '--max-in-flight', 'ten'], /--max-in-flight: must be an integer/],
      [['backends', 'set', 'x'], /backends set: nothing to change/],
      [['backends', 'set', 'x', '--set', 'connections'], /--set: expected path=value/],
      [['backends', 'rm'], /usage: strangler backends rm <name>/],
      [['backends', 'rm', 'x', '--if-version', 'v1'], /--if-version: must be an integer/],
      [['backends', 'history', 'x', '--colour', 'red'], /Unknown option '--colour'/],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    results.forEach((result, i) => {
      const what = cases[i]![0].join(' ');
      expect(result.code, what).toBe(2);
      expect(result.stdout, what).toBe('');
      expect(result.stderr, what).toMatch(/^strangler: [^\n]+$/);
      expect(result.stderr, what).toMatch(cases[i]![1]);
    });
  });
});

describe('strangler routes with named backends', SLOW, () => {
  it('routes add --modern-backend sends the route\'s modern side to that backend', async () => {
    await ok(['backends', 'add', 'orders-svc', '--url', svc.url]);
    expect(await ok(['routes', 'add', 'orders', '--prefix', '/orders', '--modern-backend', 'orders-svc'])).toBe('orders v1: /orders → legacy');
    expect(await json(['routes', 'get', 'orders'])).toMatchObject({ legacyBackend: 'legacy', modernBackend: 'orders-svc' });
    expect((await json(['backends', 'get', 'orders-svc'])).routes).toEqual(['orders']);
    expect((await ok(['backends', 'list'])).split('\n')).toContainEqual(expect.stringMatching(new RegExp(`^orders-svc\\s+modern\\s+${escape(svc.url)}\\s+0/256\\s+orders\\s+1$`)));
    expect(await servedBy('/orders/1')).toEqual({ status: 200, upstream: 'legacy', stub: 'legacy' });

    expect(await ok(['routes', 'flip', 'orders', 'modern'])).toBe('orders v2: /orders → modern (orders-svc)');
    expect(await servedBy('/orders/1')).toEqual({ status: 200, upstream: 'orders-svc', stub: 'orders-svc' });
    expect(svc.received.map((r) => r.url)).toEqual(['/orders/1']);
  });
});

describe('strangler export and apply with backends', SLOW, () => {
  it('export then apply of the same file plans nothing', async () => {
    await ok(['backends', 'add', 'orders-svc', '--url', svc.url, '--set', 'retryBudget.minPerSecond=1']);
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', modernBackend: 'orders-svc' });
    const exported = await ok(['export']);
    const doc = parse(exported);
    expect(doc.backends.map((b: any) => b.name)).toEqual(['legacy', 'modern', 'orders-svc']);
    expect(doc.backends[2]).toEqual({ name: 'orders-svc', url: svc.url, role: 'modern', maxInFlight: 256, connectTimeoutMs: 5000, connections: null, retryBudget: { percent: 20, minPerSecond: 1 }, hostHeader: 'client' });
    expect(doc.backends[2]).not.toHaveProperty('inFlight');
    expect(doc.routes[0]).toMatchObject({ id: 'orders', modernBackend: 'orders-svc' });

    const file = writeFile('routes.yaml', exported);
    expect(await ok(['apply', '-f', file, '--prune'])).toBe('plan: 0 to create, 0 to update, 0 to delete, 1 unchanged\nnothing to do');
    const plan = (await json(['apply', '-f', file])).plan;
    expect(plan.backends.changes.map((c: any) => c.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    expect((await admin(gw, 'GET', '/backends')).body.backends.map((b: any) => `${b.name}@${b.version}`)).toEqual(['legacy@1', 'modern@1', 'orders-svc@1']);
  });

  it('a file with a new backend and a route moved to it applies both, and the data plane uses the new backend', async () => {
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern' });
    expect(await servedBy('/orders/1')).toEqual({ status: 200, upstream: 'modern', stub: 'modern' });
    const doc = parse(await ok(['export']));
    doc.backends.push({ name: 'orders-svc', url: svc.url });
    doc.routes[0].modernBackend = 'orders-svc';
    const file = writeFile('moved.yaml', stringify(doc));

    const dry = await ok(['apply', '-f', file, '--dry-run']);
    expect(dry).toBe(
      [
        `+ create backend orders-svc (modern, ${svc.url})`,
        '~ update orders (v1)',
        '    modernBackend: modern → orders-svc',
        'backends: 1 to create, 0 to update, 0 to delete, 2 unchanged',
        'plan: 0 to create, 1 to update, 0 to delete, 0 unchanged',
        'dry run: nothing changed',
      ].join('\n'),
    );
    expect((await admin(gw, 'GET', '/backends/orders-svc')).status).toBe(404);

    expect(await ok(['apply', '-f', file, '--reason', 'PR #12'])).toMatch(/^\+ create backend orders-svc .*\napplied$/s);
    expect(await servedBy('/orders/1')).toEqual({ status: 200, upstream: 'orders-svc', stub: 'orders-svc' });
    expect((await admin(gw, 'GET', '/backends/orders-svc')).body).toMatchObject({ routes: ['orders'], version: 1 });
    expect((await admin(gw, 'GET', '/backends/orders-svc/history')).body.history[0]).toMatchObject({ action: 'create', reason: 'PR #12' });
  });

  it('a file whose route names a backend nobody creates exits 1 naming the entry, and changes nothing', async () => {
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders' });
    const file = writeFile('bad.yaml', 'backends:\n  - { name: new-svc, url: "http://127.0.0.1:1" }\nroutes:\n  - { id: orders, pathPrefix: /orders, modernBackend: ghost }\n');
    const result = await cli(['apply', '-f', file]);
    expect(result).toMatchObject({ code: 1, stderr: 'strangler: routes[0] (orders).modernBackend: no backend named "ghost" (VALIDATION_FAILED)' });
    expect((await admin(gw, 'GET', '/backends/new-svc')).status).toBe(404);
    expect((await admin(gw, 'GET', '/routes/orders')).body).toMatchObject({ version: 1, modernBackend: 'modern' });
  });

  it('a file with duplicate backend names exits 1 before sending anything', async () => {
    const file = writeFile('dup.yaml', 'backends:\n  - { name: a, url: "http://127.0.0.1:1" }\n  - { name: a, url: "http://127.0.0.1:2" }\nroutes: []\n');
    const result = await cli(['apply', '-f', file]);
    expect(result).toMatchObject({ code: 1, stderr: `strangler: ${file}: backends[1] (a).name: duplicate name "a" (also backends[0])` });
  });
});
