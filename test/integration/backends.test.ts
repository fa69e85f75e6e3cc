import type { IncomingMessage, ServerResponse } from 'node:http';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ServeConfig } from '../../src/config.js';
import { startGateway } from '../../src/gateway.js';
import { MIGRATIONS } from '../../src/routing/store.js';
import { admin, startBackend, startTestGateway, tempDir, type StubBackend, type TestGateway } from '../helpers/servers.js';

/**
 * Three backends at once: the monolith (legacy) and two modern services, each route sending its
 * modern side to its own. Real servers on loopback ports; nothing is mocked.
 */
let gw: TestGateway | undefined;
const extra: StubBackend[] = [];
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  await Promise.all(extra.splice(0).map((b) => b.close()));
});

async function service(name: string, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<StubBackend> {
  const backend = await startBackend(name, handler);
  extra.push(backend);
  return backend;
}

/** A gateway with `orders-svc` behind /orders and `users-svc` behind /users, both routes in modern mode. */
async function threeBackends(orders: StubBackend, users: StubBackend, ordersSettings: Record<string, unknown> = {}) {
  gw = await startTestGateway();
  expect((await admin(gw, 'POST', '/backends', { name: 'orders-svc', url: orders.url, ...ordersSettings })).status).toBe(201);
  expect((await admin(gw, 'POST', '/backends', { name: 'users-svc', url: users.url })).status).toBe(201);
  const route = (id: string, modernBackend: string, resilience: Record<string, unknown> = {}) =>
    admin(gw!, 'POST', '/routes', { id, pathPrefix: `/${id}`, mode: 'modern', modernBackend, resilience });
  const breaker = { minimumCalls: 5, windowSize: 10, openMs: 60_000 };
  expect((await route('orders', 'orders-svc', { retries: 0, breaker })).status).toBe(201);
  expect((await route('users', 'users-svc', { retries: 0, breaker })).status).toBe(201);
  return gw;
}

async function get(g: TestGateway, path: string): Promise<{ status: number; upstream: string | null; side: string | null; fallback: string | null; body: string }> {
  const res = await fetch(g.proxyUrl + path);
  return {
    status: res.status,
    upstream: res.headers.get('x-strangler-upstream'),
    side: res.headers.get('x-strangler-backend'),
    fallback: res.headers.get('x-strangler-fallback'),
    body: await res.text(),
  };
}

describe('routes to their own backends', () => {
  it('sends each route to its own service and unmatched paths to legacy', async () => {
    const orders = await service('orders-svc');
    const users = await service('users-svc');
    const g = await threeBackends(orders, users);
    expect(await get(g, '/orders/1')).toMatchObject({ status: 200, upstream: 'orders-svc', side: 'modern' });
    expect(await get(g, '/users/7')).toMatchObject({ status: 200, upstream: 'users-svc', side: 'modern' });
    expect(await get(g, '/catalog')).toMatchObject({ status: 200, upstream: 'legacy', side: 'legacy' });
    expect(orders.received.map((r) => r.url)).toEqual(['/orders/1']);
    expect(users.received.map((r) => r.url)).toEqual(['/users/7']);
    expect(g.modern.received).toEqual([]);
    // Moving a route to another backend is live at once.
    expect((await admin(g, 'PATCH', '/routes/users', { modernBackend: 'orders-svc' })).status).toBe(200);
    expect(await get(g, '/users/8')).toMatchObject({ upstream: 'orders-svc' });
  });

  it('a dead orders-svc trips only /orders’ breaker; /users keeps being served by users-svc', async () => {
    const orders = await service('orders-svc');
    const users = await service('users-svc');
    const g = await threeBackends(orders, users);
    await orders.close();
    for (let i = 0; i < 10; i++) {
      expect(await get(g, `/orders/${i}`)).toMatchObject({ status: 200, side: 'legacy', upstream: 'legacy' });
      expect(await get(g, `/users/${i}`)).toMatchObject({ status: 200, side: 'modern', upstream: 'users-svc', fallback: null });
    }
    const { breakers } = (await admin(g, 'GET', '/breakers')).body as { breakers: { routeId: string; state: string }[] };
    expect(Object.fromEntries(breakers.map((b) => [b.routeId, b.state]))).toEqual({ orders: 'open', users: 'closed' });
  });

  it('a hanging orders-svc fills only its own bulkhead: the rest fall back, /users is untouched', async () => {
    const hung: ServerResponse[] = [];
    const orders = await service('orders-svc', (_req, res) => void hung.push(res));
    const users = await service('users-svc');
    const g = await threeBackends(orders, users, { maxInFlight: 4 });
    const pending = Array.from({ length: 12 }, (_, i) => get(g, `/orders/${i}`));
    while (hung.length < 4) await new Promise((r) => setTimeout(r, 10));
    // The other 8 found the compartment full and were answered by legacy at once.
    const usersWhileFull = await Promise.all(Array.from({ length: 8 }, (_, i) => get(g, `/users/${i}`)));
    expect(usersWhileFull.every((r) => r.status === 200 && r.upstream === 'users-svc')).toBe(true);
    const { backends } = (await admin(g, 'GET', '/backends')).body as { backends: { name: string; inFlight: number; maxInFlight: number; routes: string[] }[] };
    const byName = Object.fromEntries(backends.map((b) => [b.name, b]));
    expect(byName['orders-svc']).toMatchObject({ inFlight: 4, maxInFlight: 4, routes: ['orders'] });
    expect(byName['users-svc']).toMatchObject({ inFlight: 0, routes: ['users'] });
    for (const res of hung) res.end('late');
    const answers = await Promise.all(pending);
    expect(answers.filter((a) => a.fallback === 'bulkhead-full')).toHaveLength(8);
    expect(answers.filter((a) => a.upstream === 'orders-svc')).toHaveLength(4);
    expect(answers.every((a) => a.status === 200)).toBe(true);
  });

  it('a URL change under load loses no request and moves traffic to the new address', async () => {
    const before = await service('orders-v1');
    const after = await service('orders-v2');
    const users = await service('users-svc');
    const g = await threeBackends(before, users);
    const answers: { status: number; body: string }[] = [];
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop) answers.push(await get(g, '/orders/x'));
      }),
    );
    while (answers.length < 100) await new Promise((r) => setTimeout(r, 5));
    const changed = await admin(g, 'PATCH', '/backends/orders-svc', { url: after.url, reason: 'new cluster' }, { 'if-match': '"1"' });
    expect(changed.status).toBe(200);
    const at = answers.length;
    while (answers.length < at + 100) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await load;
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(after.received.length).toBeGreaterThan(0);
    // After the change every request went to the new address (those sent before it may have been in flight on the old pool).
    const last = answers.slice(at + 8).map((a) => JSON.parse(a.body).servedBy as string);
    expect(new Set(last)).toEqual(new Set(['orders-v2']));
    const history = (await admin(g, 'GET', '/backends/orders-svc/history')).body.history;
    expect(history[0]).toMatchObject({ version: 2, action: 'update', reason: 'new cluster', before: { url: before.url }, after: { url: after.url } });
  });
});

describe('backend changes that would break routes are refused', () => {
  it('answers 409 and 400 with codes that say why, and writes nothing', async () => {
    gw = await startTestGateway();
    const svc = await service('orders-svc');
    expect((await admin(gw, 'POST', '/backends', { name: 'orders-svc', url: svc.url })).status).toBe(201);
    expect((await admin(gw, 'POST', '/backends', { name: 'orders-svc', url: svc.url })).body.error.code).toBe('DUPLICATE_BACKEND');
    const missing = await admin(gw, 'POST', '/routes', { pathPrefix: '/orders', modernBackend: 'nope' });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('modernBackend') });
    const wrongRole = await admin(gw, 'POST', '/routes', { pathPrefix: '/orders', legacyBackend: 'orders-svc' });
    expect(wrongRole.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('role modern, not legacy') });
    expect((await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', modernBackend: 'orders-svc' })).status).toBe(201);
    const inUse = await admin(gw, 'DELETE', '/backends/orders-svc');
    expect(inUse.status).toBe(409);
    expect(inUse.body.error).toMatchObject({ code: 'BACKEND_IN_USE', details: { routes: ['orders'] } });
    expect((await admin(gw, 'PATCH', '/backends/orders-svc', { role: 'legacy' })).body.error.code).toBe('BACKEND_IN_USE');
    expect((await admin(gw, 'DELETE', '/backends/modern')).body.error.code).toBe('BACKEND_REQUIRED');
    expect((await admin(gw, 'PATCH', '/backends/orders-svc', { maxInFlight: 8, version: 7 })).body.error.code).toBe('VERSION_CONFLICT');
    expect((await admin(gw, 'GET', '/backends/nope')).status).toBe(404);
    expect((await admin(gw, 'GET', '/backends/orders-svc')).body).toMatchObject({ version: 1, maxInFlight: 256 });
    // Once no route uses it, it can go.
    expect((await admin(gw, 'PATCH', '/routes/orders', { modernBackend: 'modern' })).status).toBe(200);
    expect((await admin(gw, 'DELETE', '/backends/orders-svc', { reason: 'retired' })).status).toBe(204);
    const history = (await admin(gw, 'GET', '/backends/orders-svc/history')).body.history;
    expect(history.map((h: { action: string }) => h.action)).toEqual(['delete', 'create']);
  });

  it('records the defaults from the start-up flags, and a changed flag as a new version by actor serve', async () => {
    gw = await startTestGateway();
    const { backends } = (await admin(gw, 'GET', '/backends')).body;
    expect(backends.map((b: { name: string; role: string; url: string }) => [b.name, b.role, b.url])).toEqual([
      ['legacy', 'legacy', gw.legacy.url],
      ['modern', 'modern', gw.modern.url],
    ]);
    const history = (await admin(gw, 'GET', '/backends/modern/history')).body.history;
    expect(history).toMatchObject([{ version: 1, action: 'create', actor: 'serve' }]);
  });
});

describe('a database written before named backends', () => {
  it('opens, gets the two default backends, and its routes keep working unchanged', async () => {
    const temp = tempDir();
    const old = new Database(temp.db);
    old.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    for (const sql of MIGRATIONS.slice(0, 3)) old.exec(sql);
    old.prepare('INSERT INTO schema_version (version) VALUES (3)').run();
    const at = '2026-11-01T00:00:00.000Z';
    old
      .prepare(
        `INSERT INTO routes (id, path_prefix, mode, canary_percent, sticky_key, timeout_ms, version, created_at, updated_at, resilience, max_body_bytes)
         VALUES ('orders', '/orders', 'modern', 0, 'cookie', 30000, 2, ?, ?, '{"retries":0}', NULL)`,
      )
      .run(at, at);
    old.close();
    const legacy = await service('legacy');
    const modern = await service('modern');
    const config = ServeConfig.parse({ legacy: legacy.url, modern: modern.url, db: temp.db, port: 0, host: '127.0.0.1', adminPort: 0, logLevel: 'silent' });
    const gateway = await startGateway(config, { logger: pino({ level: 'silent' }) });
    try {
      const res = await fetch(gateway.proxyUrl + '/orders/1');
      expect(res.headers.get('x-strangler-upstream')).toBe('modern');
      expect(await res.json()).toMatchObject({ servedBy: 'modern' });
      const route = (await admin(gateway, 'GET', '/routes/orders')).body;
      expect(route).toMatchObject({ version: 2, legacyBackend: 'legacy', modernBackend: 'modern', resilience: { retries: 0 } });
      expect((await admin(gateway, 'GET', '/backends')).body.backends).toHaveLength(2);
    } finally {
      await gateway.close();
      temp.cleanup();
    }
  });
});
