import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { admin, startBackend, startTestGateway, type TestGateway } from '../helpers/servers.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

/** Parses a Prometheus text exposition into `name{labels} -> value`. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return samples;
}

async function scrape(g: TestGateway): Promise<Map<string, number>> {
  const res = await fetch(`${g.adminUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseExposition(await res.text());
}

async function send(g: TestGateway, path: string, times: number, init?: RequestInit): Promise<void> {
  for (let i = 0; i < times; i++) await (await fetch(g.proxyUrl + path, init)).arrayBuffer();
}

/** A modern backend that answers 200, or 500 under /orders/broken. */
async function startModern() {
  return startBackend('modern', (req, res) => {
    req.resume();
    res.writeHead(req.url!.includes('broken') ? 500 : 200, { 'content-type': 'application/json' });
    res.end('{"servedBy":"modern"}');
  });
}

describe('metrics and status after a known mix of traffic', () => {
  it('counts requests, durations, fallbacks and gauges with bounded labels', async () => {
    gw = await startTestGateway({ modern: await startModern() });
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', resilience: { retries: 0, fallthroughStatuses: [404] } });
    await admin(gw, 'POST', '/routes', { id: 'users', pathPrefix: '/users', mode: 'canary', canaryPercent: 30 });
    await send(gw, '/orders/1', 7);
    await send(gw, '/orders/broken', 2, { method: 'POST', body: 'x' }); // 500, not replayable: client sees it
    await send(gw, '/elsewhere', 3);
    await send(gw, '/%2e%2e%2forders', 1); // refused before routing: read as /orders once %2f is decoded
    await gw.modern.close(); // now modern is down: GETs fall back to legacy
    await send(gw, '/orders/2', 4);

    const m = await scrape(gw);
    expect(m.get('strangler_requests_total{route="orders",backend="modern",side="modern",status_class="2xx"}')).toBe(7);
    expect(m.get('strangler_requests_total{route="orders",backend="modern",side="modern",status_class="5xx"}')).toBe(2);
    expect(m.get('strangler_requests_total{route="orders",backend="legacy",side="legacy",status_class="2xx"}')).toBe(4);
    expect(m.get('strangler_requests_total{route="default",backend="legacy",side="legacy",status_class="2xx"}')).toBe(3);
    expect(m.get('strangler_refused_requests_total{code="BAD_REQUEST_TARGET"}')).toBe(1);
    expect(m.get('strangler_request_duration_seconds_count{route="orders",backend="modern",side="modern"}')).toBe(9);
    expect(m.get('strangler_request_duration_seconds_bucket{le="+Inf",route="orders",backend="modern",side="modern"}')).toBe(9);
    const fallbacks = [...m].filter(([k]) => k.startsWith('strangler_fallbacks_total{route="orders"'));
    expect(fallbacks.reduce((n, [, v]) => n + v, 0)).toBe(4);
    // Per-route series follow the routes with recent traffic, not the size of the table.
    expect(m.has('strangler_canary_percent{route="users"}')).toBe(false);
    await send(gw, '/users/1', 1);
    expect((await scrape(gw)).get('strangler_canary_percent{route="users"}')).toBe(30);
    expect(m.get('strangler_canary_percent{route="orders"}')).toBe(100);
    expect(m.get('strangler_breaker_state{route="orders"}')).toBeGreaterThanOrEqual(0);
    expect(m.get('strangler_in_flight_requests{backend="legacy",side="legacy"}')).toBe(0);
    expect(m.get('strangler_retries_total{backend="modern",side="modern"}')).toBe(0);
    expect(m.has('process_cpu_seconds_total')).toBe(true);
    // No label carries a raw path.
    expect([...m.keys()].some((k) => k.includes('/orders'))).toBe(false);

    // A deleted route's series go at the next scrape.
    await admin(gw, 'DELETE', '/routes/orders');
    const after = await scrape(gw);
    expect([...after.keys()].some((k) => k.includes('route="orders"'))).toBe(false);
  });

  it('counts retries and retry-budget refusals per backend', async () => {
    const modern = await startBackend('modern', (req, res) => {
      req.resume();
      res.writeHead(503).end();
    });
    gw = await startTestGateway({ modern });
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', resilience: { retries: 1, fallback: false, breaker: { minimumCalls: 1000, windowSize: 1000 } } });
    await send(gw, '/orders/1', 200);
    const m = await scrape(gw);
    const retries = m.get('strangler_retries_total{backend="modern",side="modern"}')!;
    const refusals = m.get('strangler_retry_budget_refusals_total{backend="modern",side="modern"}')!;
    expect(retries + refusals).toBe(200); // every 503 asked for one retry
    expect(refusals).toBeGreaterThan(0); // 20% of 200 plus the floor is well under 200
    expect(modern.received).toHaveLength(200 + retries);
  });

  it('GET /status shows the route mix, the modern share and both sides of each route', async () => {
    gw = await startTestGateway({ modern: await startModern() });
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', resilience: { retries: 0 } });
    await admin(gw, 'POST', '/routes', { id: 'users', pathPrefix: '/users', mode: 'legacy' });
    await admin(gw, 'POST', '/routes', { id: 'cart', pathPrefix: '/cart', mode: 'canary', canaryPercent: 50 });
    await send(gw, '/orders/1', 6);
    await send(gw, '/orders/broken', 2); // 500 to a GET: legacy answers (fallback)
    await send(gw, '/orders/broken', 2, { method: 'POST', body: 'x' }); // 500 to a POST: the client sees it
    await send(gw, '/users/1', 8);
    await send(gw, '/cart', 4, { headers: { cookie: 'strangler_canary=fixed-key' } });

    const { status, body } = await admin(gw, 'GET', '/status');
    expect(status).toBe(200);
    expect(body.routes).toEqual({ total: 3, legacy: 1, canary: 1, modern: 1, shadow: 0 });
    expect(body.windowSeconds).toBe(300);
    expect(body.traffic.requests).toBe(22);
    const cart = body.perRoute.find((r: { id: string }) => r.id === 'cart');
    expect(cart.legacy.requests + cart.modern.requests).toBe(4); // one sticky key: all on one side
    expect(body.traffic.modernShare).toBeCloseTo((8 + cart.modern.requests) / 22, 4);
    const orders = body.perRoute.find((r: { id: string }) => r.id === 'orders');
    expect(orders).toMatchObject({ pathPrefix: '/orders', mode: 'modern', modernPercent: 100, breaker: 'closed' });
    expect(orders.modern).toMatchObject({ requests: 10, errorRate: 0.2, fallbackRate: 0.2 });
    expect(orders.modern.p50Ms).toBeGreaterThan(0);
    expect(orders.modern.p99Ms).toBeGreaterThanOrEqual(orders.modern.p50Ms);
    expect(orders.legacy).toMatchObject({ requests: 0, p50Ms: null, p99Ms: null });
    const users = body.perRoute.find((r: { id: string }) => r.id === 'users');
    expect(users.legacy).toMatchObject({ requests: 8, errorRate: 0 });
    expect(body.perRoute.find((r: { id: string }) => r.id === 'default')).toBeUndefined();
  });
});

describe('request tracing headers', () => {
  it('forwards X-Request-Id and traceparent untouched and logs the request id', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const logger = pino({ level: 'info' }, sink);
    gw = await startTestGateway({ config: { logLevel: 'info' }, deps: { logger } });
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await fetch(`${gw.proxyUrl}/a`, { headers: { 'x-request-id': 'req-abc-123', traceparent, tracestate: 'vendor=opaque' } });
    await res.arrayBuffer();
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');
    const seen = gw.legacy.received[0]!.headers;
    expect(seen['x-request-id']).toBe('req-abc-123');
    expect(seen.traceparent).toBe(traceparent);
    expect(seen.tracestate).toBe('vendor=opaque');

    // Without one, the gateway makes an id, sends it on and answers with it.
    const res2 = await fetch(`${gw.proxyUrl}/b`);
    await res2.arrayBuffer();
    const made = res2.headers.get('x-request-id');
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    expect(gw.legacy.received[1]!.headers['x-request-id']).toBe(made);

    await new Promise((r) => setTimeout(r, 50));
    const access = lines.filter((l) => l.msg === 'request');
    expect(access.map((l) => l.reqId)).toEqual(['req-abc-123', made]);
  });
});
