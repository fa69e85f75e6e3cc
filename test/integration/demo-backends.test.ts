import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, afterEach, vi } from 'vitest';
import { matchPath } from '../../demo/http-helpers.js';
import { createLegacyServer } from '../../legacy/server.js';
import { createModernServer } from '../../modern/server.js';

const servers: Server[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const child of children.splice(0)) child.kill();
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          // fetch keeps connections alive; cut them so close() does not wait for them.
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

async function start(server: Server): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

function postJson(url: string, body: unknown, method = 'POST'): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return getJson(url, { method, headers: { 'content-type': 'application/json' }, body: text });
}

describe('matchPath', () => {
  it('matches literal segments, captures params and a trailing wildcard', () => {
    expect(matchPath('/orders', '/orders')).toEqual({});
    expect(matchPath('/orders', '/orders/')).toEqual({});
    expect(matchPath('/orders', '/orders/1')).toBeUndefined();
    expect(matchPath('/orders/:id', '/orders/1001')).toEqual({ id: '1001' });
    expect(matchPath('/orders/:id', '/orders/a%20b')).toEqual({ id: 'a b' });
    expect(matchPath('/orders/:id', '/orders/%E0')).toEqual({ id: '%E0' });
    expect(matchPath('/echo/*', '/echo')).toEqual({});
    expect(matchPath('/echo/*', '/echo/a/b')).toEqual({});
    expect(matchPath('/echo/*', '/echoes')).toBeUndefined();
    expect(matchPath('/', '/')).toEqual({});
  });
});

describe('legacy demo backend', () => {
  it('lists its endpoints at /', async () => {
    const base = await start(createLegacyServer());
    const { status, headers, body } = await getJson(`${base}/`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json');
    expect(body).toMatchObject({ servedBy: 'legacy', method: 'GET', path: '/' });
    expect(body.endpoints).toEqual(expect.arrayContaining(['GET /orders', 'GET /catalog/:id', 'POST /orders']));
  });

  it.each([
    ['/orders?limit=2', 'orders'],
    ['/orders/1001', 'order'],
    ['/users', 'users'],
    ['/users/2', 'user'],
    ['/catalog', 'products'],
    ['/catalog/3', 'product'],
  ])('answers GET %s with legacy data', async (path, key) => {
    const base = await start(createLegacyServer());
    const { status, headers, body } = await getJson(`${base}${path}`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json');
    expect(body).toMatchObject({ servedBy: 'legacy', method: 'GET', path });
    expect(body[key]).toBeDefined();
  });

  it('answers an item in the legacy shape', async () => {
    const base = await start(createLegacyServer());
    const { body } = await getJson(`${base}/orders/1001`);
    expect(body.order).toMatchObject({ order_id: 1001, total_cents: 4250 });
  });

  it('answers 404 JSON for unknown paths and unknown ids', async () => {
    const base = await start(createLegacyServer());
    for (const path of ['/nope?x=1', '/orders/9999', '/catalog/1/extra']) {
      const { status, headers, body } = await getJson(`${base}${path}`);
      expect(status).toBe(404);
      expect(headers.get('content-type')).toBe('application/json');
      expect(body).toEqual({ servedBy: 'legacy', error: 'not found', path });
    }
  });

  it('answers 405 with allow for a known path and another method', async () => {
    const base = await start(createLegacyServer());
    const { status, headers, body } = await getJson(`${base}/orders/1001`, { method: 'DELETE' });
    expect(status).toBe(405);
    expect(headers.get('allow')).toBe('GET');
    expect(body).toMatchObject({ servedBy: 'legacy', method: 'DELETE' });
  });

  it('echoes a POST /orders body back in a new order', async () => {
    const base = await start(createLegacyServer());
    const sent = { item: 'TEA-001', quantity: 2 };
    const { status, body } = await postJson(`${base}/orders`, sent);
    expect(status).toBe(201);
    expect(body).toMatchObject({ servedBy: 'legacy', method: 'POST', path: '/orders' });
    expect(body.order).toEqual({ order_id: 2001, status: 'NEW', received: sent });
  });

  it('refuses a POST /orders body that is not JSON', async () => {
    const base = await start(createLegacyServer());
    const { status, body } = await postJson(`${base}/orders`, '{not json');
    expect(status).toBe(400);
    expect(body).toMatchObject({ servedBy: 'legacy', path: '/orders' });
  });

  it('answers 413 to a body over 1 MiB', async () => {
    const base = await start(createLegacyServer());
    const { status, body } = await postJson(`${base}/orders`, 'x'.repeat(1024 * 1024 + 1));
    expect(status).toBe(413);
    expect(body).toMatchObject({ servedBy: 'legacy' });
  });

  it('echoes method, path, headers and body under /echo', async () => {
    const base = await start(createLegacyServer());
    const { status, body } = await getJson(`${base}/echo/deep/path?q=1`, {
      method: 'PUT',
      headers: { 'x-test': 'hello', 'content-type': 'text/plain' },
      body: 'payload',
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ servedBy: 'legacy', method: 'PUT', path: '/echo/deep/path?q=1', body: 'payload' });
    expect(body.headers).toMatchObject({ 'x-test': 'hello', 'content-type': 'text/plain' });
    const plain = await getJson(`${base}/echo`);
    expect(plain.body).toMatchObject({ method: 'GET', path: '/echo', body: '' });
  });
});

describe('modern demo backend', () => {
  it.each([
    ['/orders', 'orders'],
    ['/orders/1002?expand=total', 'order'],
    ['/users', 'users'],
    ['/users/3', 'user'],
  ])('answers GET %s in the version 2 shape', async (path, key) => {
    const base = await start(createModernServer({}));
    const { status, headers, body } = await getJson(`${base}${path}`);
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('application/json');
    expect(body).toMatchObject({ servedBy: 'modern', apiVersion: 2, method: 'GET', path });
    expect(body[key]).toBeDefined();
  });

  it('has not migrated the catalog: 404 JSON', async () => {
    const base = await start(createModernServer({}));
    const { status, body } = await getJson(`${base}/catalog/1`);
    expect(status).toBe(404);
    expect(body).toEqual({ servedBy: 'modern', error: 'not found', path: '/catalog/1' });
  });

  it('echoes a POST /orders body back in a new order', async () => {
    const base = await start(createModernServer({}));
    const sent = { sku: 'MUG-002', quantity: 1 };
    const { status, body } = await postJson(`${base}/orders`, sent);
    expect(status).toBe(201);
    expect(body).toMatchObject({ servedBy: 'modern', apiVersion: 2, order: { id: '5001', status: 'created', received: sent } });
  });

  it('echoes what it received under /echo', async () => {
    const base = await start(createModernServer({}));
    const { body } = await getJson(`${base}/echo/x`, { headers: { 'x-forwarded-for': '10.0.0.1' } });
    expect(body).toMatchObject({ servedBy: 'modern', method: 'GET', path: '/echo/x' });
    expect(body.headers).toMatchObject({ 'x-forwarded-for': '10.0.0.1' });
  });
});

describe('modern demo backend: chaos', () => {
  it('starts without chaos and shows the settings', async () => {
    const base = await start(createModernServer({}));
    const { status, body } = await getJson(`${base}/__chaos`);
    expect(status).toBe(200);
    expect(body).toEqual({ servedBy: 'modern', chaos: { failRate: 0, delayMs: 0, status: 503 } });
  });

  it('fails every request with failRate 1, then recovers after DELETE', async () => {
    const base = await start(createModernServer({}));
    expect((await postJson(`${base}/__chaos`, { failRate: 1 })).body).toMatchObject({ chaos: { failRate: 1, status: 503 } });

    const failed = await getJson(`${base}/orders`);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('content-type')).toBe('application/json');
    expect(failed.body).toEqual({ servedBy: 'modern', error: 'injected failure' });

    await postJson(`${base}/__chaos`, { status: 500 });
    expect((await getJson(`${base}/users/1`)).status).toBe(500);

    const reset = await getJson(`${base}/__chaos`, { method: 'DELETE' });
    expect(reset.body).toEqual({ servedBy: 'modern', chaos: { failRate: 0, delayMs: 0, status: 503 } });
    expect((await getJson(`${base}/orders`)).status).toBe(200);
  });

  it('keeps fields left out of a POST', async () => {
    const base = await start(createModernServer({}));
    await postJson(`${base}/__chaos`, { failRate: 0.25, status: 502 });
    const { body } = await postJson(`${base}/__chaos`, { delayMs: 10 });
    expect(body.chaos).toEqual({ failRate: 0.25, delayMs: 10, status: 502 });
  });

  it('fails a request when Math.random() falls under failRate', async () => {
    const base = await start(createModernServer({}));
    await postJson(`${base}/__chaos`, { failRate: 0.5 });
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValueOnce(0.49);
    expect((await getJson(`${base}/orders`)).status).toBe(503);
    random.mockReturnValueOnce(0.5);
    expect((await getJson(`${base}/orders`)).status).toBe(200);
  });

  it('delays answers by delayMs', async () => {
    const base = await start(createModernServer({}));
    await postJson(`${base}/__chaos`, { delayMs: 200 });
    const started = performance.now();
    const { status } = await getJson(`${base}/orders`);
    expect(status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(180);
  });

  it('never applies chaos to the control endpoint', async () => {
    const base = await start(createModernServer({}));
    await postJson(`${base}/__chaos`, { failRate: 1, delayMs: 5000 });
    const started = performance.now();
    expect((await getJson(`${base}/__chaos`)).status).toBe(200);
    expect((await getJson(`${base}/__chaos`, { method: 'DELETE' })).status).toBe(200);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('honours x-chaos-fail and x-chaos-delay-ms for one request', async () => {
    const base = await start(createModernServer({}));
    const failed = await getJson(`${base}/orders`, { headers: { 'x-chaos-fail': '502' } });
    expect(failed.status).toBe(502);
    expect(failed.body).toEqual({ servedBy: 'modern', error: 'injected failure' });

    const started = performance.now();
    expect((await getJson(`${base}/orders`, { headers: { 'x-chaos-delay-ms': '150' } })).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(130);

    expect((await getJson(`${base}/orders`)).status).toBe(200);
  });

  it.each([
    ['bad JSON', '{"failRate":'],
    ['not an object', '[1]'],
    ['failRate above 1', { failRate: 1.5 }],
    ['negative delayMs', { delayMs: -1 }],
    ['delayMs as a string', { delayMs: '100' }],
    ['a success status', { status: 200 }],
    ['a fractional status', { status: 503.5 }],
    ['an unknown field', { failrate: 1 }],
  ])('refuses %s with 400 VALIDATION_FAILED and keeps the settings', async (_name, body) => {
    const base = await start(createModernServer({}));
    const result = await postJson(`${base}/__chaos`, body);
    expect(result.status).toBe(400);
    expect(result.headers.get('content-type')).toBe('application/json');
    expect(result.body).toEqual({ error: { code: 'VALIDATION_FAILED', message: expect.any(String) } });
    expect((await getJson(`${base}/__chaos`)).body.chaos).toEqual({ failRate: 0, delayMs: 0, status: 503 });
  });

  it.each([
    ['x-chaos-fail', '200'],
    ['x-chaos-fail', 'soon'],
    ['x-chaos-delay-ms', '-5'],
    ['x-chaos-delay-ms', ''],
  ])('refuses header %s: %j with 400 VALIDATION_FAILED', async (name, value) => {
    const base = await start(createModernServer({}));
    const result = await getJson(`${base}/orders`, { headers: { [name]: value } });
    expect(result.status).toBe(400);
    expect(result.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
  });

  it('starts from CHAOS_FAIL_RATE / CHAOS_DELAY_MS and DELETE returns to them', async () => {
    const base = await start(createModernServer({ CHAOS_FAIL_RATE: '0.1', CHAOS_DELAY_MS: '5' }));
    expect((await getJson(`${base}/__chaos`)).body.chaos).toEqual({ failRate: 0.1, delayMs: 5, status: 503 });
    await postJson(`${base}/__chaos`, { failRate: 1 });
    const reset = await getJson(`${base}/__chaos`, { method: 'DELETE' });
    expect(reset.body.chaos).toEqual({ failRate: 0.1, delayMs: 5, status: 503 });
  });

  it('refuses invalid chaos environment values at creation', () => {
    expect(() => createModernServer({ CHAOS_FAIL_RATE: '2' })).toThrow(/failRate/);
    expect(() => createModernServer({ CHAOS_DELAY_MS: 'slow' })).toThrow(/delayMs/);
  });
});

describe('demo backends run as scripts', () => {
  const root = fileURLToPath(new URL('../../', import.meta.url));

  it.each([
    ['legacy', 'legacy/server.ts'],
    ['modern', 'modern/server.ts'],
  ])('%s listens on PORT and logs where', async (name, script) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.includes('\n')) resolve(output.trim());
      });
      child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${output}`)));
    });
    const match = new RegExp(`^${name} demo listening on (http://127\\.0\\.0\\.1:\\d+)$`).exec(line);
    expect(match).not.toBeNull();
    const { body } = await getJson(`${match?.[1]}/orders`);
    expect(body).toMatchObject({ servedBy: name });
  });
});
