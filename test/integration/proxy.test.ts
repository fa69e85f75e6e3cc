import http from 'node:http';
import net from 'node:net';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { admin, startBackend, startTestGateway, type TestGateway } from '../helpers/servers.js';

let gw: TestGateway;

beforeEach(async () => {
  gw = await startTestGateway();
});
afterEach(async () => {
  await gw.stop();
});

async function addRoute(body: Record<string, unknown>) {
  const res = await admin(gw, 'POST', '/routes', body);
  expect(res.status).toBe(201);
  return res.body;
}

/** Sends raw bytes and returns the raw response, for targets fetch() would rewrite. */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

const port = () => Number(new URL(gw.proxyUrl).port);

describe('routing', () => {
  it('sends unmatched paths to legacy with route "default"', async () => {
    const res = await fetch(`${gw.proxyUrl}/anything?x=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-strangler-backend')).toBe('legacy');
    expect(res.headers.get('x-strangler-route')).toBe('default');
    expect(gw.legacy.received.map((r) => r.url)).toEqual(['/anything?x=1']);
  });

  it('sends a modern route to modern, keeping path and query verbatim', async () => {
    await addRoute({ id: 'orders', pathPrefix: '/orders', mode: 'modern' });
    const res = await fetch(`${gw.proxyUrl}/orders/42?expand=items&x=%20y`);
    expect(res.headers.get('x-strangler-backend')).toBe('modern');
    expect(res.headers.get('x-strangler-route')).toBe('orders');
    expect(gw.modern.received[0]!.url).toBe('/orders/42?expand=items&x=%20y');
    const archive = await fetch(`${gw.proxyUrl}/orders-archive`);
    expect(archive.headers.get('x-strangler-backend')).toBe('legacy');
  });

  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])('forwards %s with its body', async (method) => {
    await addRoute({ pathPrefix: '/orders', mode: 'modern' });
    const body = method === 'GET' || method === 'OPTIONS' ? undefined : '{"n":1}';
    const res = await fetch(`${gw.proxyUrl}/orders/1`, { method, body });
    expect(res.status).toBe(200);
    expect(gw.modern.received[0]!.method).toBe(method);
  });

  it('answers HEAD without a body', async () => {
    const res = await fetch(`${gw.proxyUrl}/x`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(gw.legacy.received[0]!.method).toBe('HEAD');
  });

  it('forwards the normalised path it matched, so both sides read it the same way', async () => {
    await addRoute({ pathPrefix: '/orders', mode: 'modern' });
    await addRoute({ pathPrefix: '/public', mode: 'legacy' });
    const answer = await rawRequest(port(), 'GET /public/../orders/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    expect(answer).toMatch(/x-strangler-backend: modern/);
    expect(gw.modern.received[0]!.url).toBe('/orders/1');
    expect(gw.legacy.received).toHaveLength(0);
  });

  it.each([
    'GET /orders%2f1 HTTP/1.1',
    'GET /orders%5C1 HTTP/1.1',
    'GET /orders\\1 HTTP/1.1',
    'GET //orders/1 HTTP/1.1',
    'GET /public/..%2Forders HTTP/1.1',
    'GET /orders%00 HTTP/1.1',
    'GET http://evil/orders HTTP/1.1',
  ])('refuses %s (readings that select different routes, or what no backend should see) with a JSON 400', async (line) => {
    await addRoute({ pathPrefix: '/orders', mode: 'modern' });
    await addRoute({ pathPrefix: '/public', mode: 'legacy' });
    const answer = await rawRequest(port(), `${line}\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    expect(answer).toMatch(/"code":"BAD_REQUEST_TARGET"/);
    expect(gw.legacy.received).toHaveLength(0);
    expect(gw.modern.received).toHaveLength(0);
  });

  it.each([
    '/orders/a%2Fb',
    '/orders/a%2fb%5Cc',
    '/orders//1//',
    '/orders/a\\b',
    '/other%2Fx',
  ])('forwards %s as the client sent it: every reading selects the same route', async (target) => {
    await addRoute({ pathPrefix: '/orders', mode: 'modern' });
    const answer = await rawRequest(port(), `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    expect([...gw.legacy.received, ...gw.modern.received].map((r) => r.url)).toEqual([target]);
  });

  it('refuses ";" parameters that would select another route, and passes those that would not', async () => {
    await addRoute({ pathPrefix: '/orders', mode: 'modern' });
    await addRoute({ pathPrefix: '/public', mode: 'legacy' });
    const sneaky = await rawRequest(port(), 'GET /public/..;/orders/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(sneaky).toMatch(/^HTTP\/1.1 400/);
    const session = await fetch(`${gw.proxyUrl}/orders/1;jsessionid=abc`);
    expect(session.status).toBe(200);
    expect(gw.modern.received[0]!.url).toBe('/orders/1;jsessionid=abc');
  });
});

describe('headers', () => {
  it('sets X-Forwarded-*, replaces client-sent values, and keeps a sane X-Request-Id', async () => {
    const res = await fetch(`${gw.proxyUrl}/x`, {
      headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil', 'x-request-id': 'abc-123' },
    });
    const seen = gw.legacy.received[0]!.headers;
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe(new URL(gw.proxyUrl).host);
    expect(seen['x-request-id']).toBe('abc-123');
    expect(res.headers.get('x-request-id')).toBe('abc-123');
  });

  it('generates an X-Request-Id when none (or a malformed one) is sent', async () => {
    const res = await fetch(`${gw.proxyUrl}/x`, { headers: { 'x-request-id': 'has space' } });
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(gw.legacy.received[0]!.headers['x-request-id']).toBe(id);
  });

  it('drops hop-by-hop headers, including those named in Connection, both ways', async () => {
    const backend = await startBackend('legacy', (_req, res) => {
      res.writeHead(200, { 'x-hop': '1', connection: 'x-hop', 'keep-alive': 'timeout=5', 'x-end': 'kept' });
      res.end('ok');
    });
    await gw.stop();
    gw = await startTestGateway({ legacy: backend });
    const answer = await rawRequest(
      port(),
      'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close, x-secret\r\nX-Secret: s\r\nTE: trailers\r\n' +
        'Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic Zm9v\r\nX-Kept: yes\r\n\r\n',
    );
    const seen = backend.received[0]!.headers;
    for (const h of ['x-secret', 'te', 'proxy-connection', 'proxy-authorization']) expect(seen[h]).toBeUndefined();
    expect(seen['x-kept']).toBe('yes');
    expect(answer).toMatch(/x-end: kept/);
    expect(answer).not.toMatch(/x-hop/);
    expect(answer).not.toMatch(/timeout=5/);
  });

  it('passes every Set-Cookie of a response', async () => {
    const backend = await startBackend('legacy', (_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end('ok');
    });
    await gw.stop();
    gw = await startTestGateway({ legacy: backend });
    const res = await fetch(`${gw.proxyUrl}/x`);
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  });

  it('does not let a backend spoof the gateway headers', async () => {
    const backend = await startBackend('legacy', (_req, res) => {
      res.setHeader('x-strangler-backend', 'modern');
      res.end('ok');
    });
    await gw.stop();
    gw = await startTestGateway({ legacy: backend });
    const res = await fetch(`${gw.proxyUrl}/x`);
    expect(res.headers.get('x-strangler-backend')).toBe('legacy');
  });
});

describe('canary', () => {
  it('with a header key, the same user always lands on the same side', async () => {
    await addRoute({ pathPrefix: '/orders', mode: 'canary', canaryPercent: 50, stickyKey: 'header:x-user-id' });
    const sides = new Map<string, Set<string>>();
    for (let round = 0; round < 3; round++) {
      for (let user = 0; user < 40; user++) {
        const res = await fetch(`${gw.proxyUrl}/orders`, { headers: { 'x-user-id': `u${user}` } });
        await res.arrayBuffer();
        const set = sides.get(`u${user}`) ?? new Set();
        set.add(res.headers.get('x-strangler-backend')!);
        sides.set(`u${user}`, set);
      }
    }
    expect([...sides.values()].every((s) => s.size === 1)).toBe(true);
    const modern = [...sides.values()].filter((s) => s.has('modern')).length;
    expect(modern).toBeGreaterThan(5);
    expect(modern).toBeLessThan(35);
  });

  it('with the cookie key, issues a cookie once and keeps the browser on its side', async () => {
    await addRoute({ pathPrefix: '/orders', mode: 'canary', canaryPercent: 50 });
    const first = await fetch(`${gw.proxyUrl}/orders`);
    const cookie = first.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^strangler_canary=[\w-]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    const side = first.headers.get('x-strangler-backend');
    for (let i = 0; i < 10; i++) {
      const again = await fetch(`${gw.proxyUrl}/orders/${i}`, { headers: { cookie: `other=1; ${cookie.split(';')[0]}` } });
      expect(again.headers.get('x-strangler-backend')).toBe(side);
      expect(again.headers.get('set-cookie')).toBeNull();
    }
  });

  it('a flip applies to the very next request', async () => {
    await addRoute({ id: 'orders', pathPrefix: '/orders', mode: 'modern' });
    expect((await fetch(`${gw.proxyUrl}/orders`)).headers.get('x-strangler-backend')).toBe('modern');
    expect((await admin(gw, 'POST', '/routes/orders/flip', { to: 'legacy' })).status).toBe(200);
    expect((await fetch(`${gw.proxyUrl}/orders`)).headers.get('x-strangler-backend')).toBe('legacy');
  });
});

describe('upstream failures', () => {
  it('gives a JSON 504 when the backend does not answer within the route timeout', async () => {
    const slow = await startBackend('modern', () => {
      /* never answers */
    });
    await gw.stop();
    gw = await startTestGateway({ modern: slow });
    await addRoute({ pathPrefix: '/slow', mode: 'modern', timeoutMs: 200, resilience: { retries: 0, fallback: false } });
    const res = await fetch(`${gw.proxyUrl}/slow`);
    expect(res.status).toBe(504);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(((await res.json()) as any).error.code).toBe('UPSTREAM_TIMEOUT');
    expect(res.headers.get('x-strangler-backend')).toBe('modern');
  });

  it('gives a JSON 502 when the backend is down, never a bare 500', async () => {
    await gw.modern.close();
    await addRoute({ pathPrefix: '/orders', mode: 'modern', resilience: { retries: 0, fallback: false } });
    const res = await fetch(`${gw.proxyUrl}/orders`);
    expect(res.status).toBe(502);
    const body = (await res.json()) as any;
    expect(body.error.code).toBe('UPSTREAM_CONNECT_ERROR');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it('aborts the client connection when the backend dies mid-body', async () => {
    const dying = await startBackend('legacy', (_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('x'.repeat(100));
      setTimeout(() => res.socket?.destroy(), 20);
    });
    await gw.stop();
    gw = await startTestGateway({ legacy: dying });
    const res = await fetch(`${gw.proxyUrl}/x`);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });
});

describe('protocol edges', () => {
  it('answers Expect: 100-continue itself and forwards the body', async () => {
    await addRoute({ pathPrefix: '/orders', mode: 'modern' });
    const status = await new Promise<{ continued: boolean; status: number }>((resolve, reject) => {
      let continued = false;
      const req = http.request(`${gw.proxyUrl}/orders`, { method: 'POST', headers: { expect: '100-continue', 'content-length': '2' } });
      req.on('continue', () => {
        continued = true;
        req.end('{}');
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ continued, status: res.statusCode! });
      });
      req.on('error', reject);
    });
    expect(status).toEqual({ continued: true, status: 200 });
    expect(gw.modern.received[0]!.headers.expect).toBeUndefined();
  });

  it('gives a JSON 431 for oversized request headers', async () => {
    const answer = await rawRequest(port(), `GET /x HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 431/);
    expect(answer).toMatch(/"code":"HEADERS_TOO_LARGE"/);
  });

  it('gives a JSON 400 for malformed HTTP', async () => {
    const answer = await rawRequest(port(), 'GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    expect(answer).toMatch(/"code":"BAD_REQUEST"/);
  });
});

describe('access log', () => {
  it('writes one JSON line per request with request id, route, backend, status and duration', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    await gw.stop();
    gw = await startTestGateway({ deps: { logger } });
    await addRoute({ id: 'orders', pathPrefix: '/orders', mode: 'modern' });
    await fetch(`${gw.proxyUrl}/orders/7?q=1`, { headers: { 'x-request-id': 'log-me' } });
    const access = lines.filter((l) => l.msg === 'request');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ reqId: 'log-me', method: 'GET', path: '/orders/7?q=1', route: 'orders', backend: 'modern', status: 200 });
    expect(typeof access[0]!.ms).toBe('number');
    const audit = lines.filter((l) => l.msg === 'route changed');
    expect(audit[0]).toMatchObject({ action: 'create', route: 'orders', version: 1, actor: 'anonymous' });
  });

  it('with --access-log off writes no per-request lines, but still logs failures', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    await gw.stop();
    gw = await startTestGateway({ deps: { logger }, config: { accessLog: 'off' } });
    await fetch(`${gw.proxyUrl}/fine`);
    await gw.legacy.close();
    expect((await fetch(`${gw.proxyUrl}/broken`)).status).toBe(502);
    expect(lines.filter((l) => l.msg === 'request')).toHaveLength(0);
    expect(lines.filter((l) => l.msg === 'request failed')).toMatchObject([{ path: '/broken', status: 502 }]);
  });
});
