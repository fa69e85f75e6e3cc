import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { admin, startBackend, startTestGateway, type StubBackend, type TestGateway } from '../helpers/servers.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A modern stub whose behaviour the test switches while traffic flows. */
async function switchableModern(): Promise<StubBackend & { mode: { now: 'ok' | '503' | 'hang' | 'reset-after-body' } }> {
  const mode = { now: 'ok' as 'ok' | '503' | 'hang' | 'reset-after-body' };
  const backend = await startBackend('modern', (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      if (mode.now === 'hang') return;
      if (mode.now === 'reset-after-body') return req.socket.destroy();
      res.writeHead(mode.now === '503' ? 503 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ servedBy: 'modern' }));
    });
  });
  return Object.assign(backend, { mode });
}

async function addRoute(g: TestGateway, resilience: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const res = await admin(g, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', resilience, ...extra });
  expect(res.status).toBe(201);
  return res.body;
}

const get = (g: TestGateway, path = '/orders/1', init?: RequestInit) => fetch(g.proxyUrl + path, init);

describe('fallback to legacy', () => {
  it('answers every GET from legacy when modern dies mid-traffic', async () => {
    gw = await startTestGateway();
    await addRoute(gw, { retries: 0 });
    const sides: string[] = [];
    for (let i = 0; i < 40; i++) {
      if (i === 20) await gw.modern.close();
      const res = await get(gw);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      sides.push(`${res.headers.get('x-strangler-backend')}:${res.headers.get('x-strangler-fallback') ?? '-'}`);
    }
    expect(sides.slice(0, 20).every((s) => s === 'modern:-')).toBe(true);
    expect(sides.slice(20).every((s) => s === 'legacy:connect-error' || s === 'legacy:breaker-open')).toBe(true);
  });

  it('answers from legacy within the deadline when modern is slower than the timeout', async () => {
    const modern = await switchableModern();
    modern.mode.now = 'hang';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 0 }, { timeoutMs: 200 });
    const started = Date.now();
    const res = await get(gw);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-strangler-backend')).toBe('legacy');
    expect(res.headers.get('x-strangler-fallback')).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('falls back first: with modern hanging, every GET is answered by legacy after one modern try (one timeout, not two)', async () => {
    const modern = await switchableModern();
    modern.mode.now = 'hang';
    gw = await startTestGateway({ modern });
    // Retries allowed, and a breaker that stays closed, so every request meets the hanging modern.
    await addRoute(gw, { retries: 2, breaker: { minimumCalls: 1000, windowSize: 1000 } }, { timeoutMs: 100 });
    const requests = 12;
    const answers = await Promise.all(Array.from({ length: requests }, () => get(gw!)));
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-strangler-backend')).toBe('legacy');
      expect(res.headers.get('x-strangler-fallback')).toBe('timeout');
      await res.arrayBuffer();
    }
    expect(modern.received).toHaveLength(requests); // one try each, no retry on modern
    expect(gw.legacy.received).toHaveLength(requests);
    const metrics = await fetch(gw.adminUrl + '/metrics').then((r) => r.text());
    expect(metrics).toMatch(/strangler_retries_total\{backend="modern",side="modern"\} 0/);
  });

  it('with fallback off, a hanging modern is retried on modern as before', async () => {
    const modern = await switchableModern();
    modern.mode.now = 'hang';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 1, fallback: false }, { timeoutMs: 100 });
    const res = await get(gw);
    expect(res.status).toBe(504);
    expect(modern.received).toHaveLength(2);
    expect(gw.legacy.received).toHaveLength(0);
  });

  it('a short timeout is kept: modern answering after 4× timeoutMs is too late (undici alone checks it only every half second)', async () => {
    const modern = await startBackend('modern', (req, res) => {
      req.resume();
      setTimeout(() => res.destroyed || res.writeHead(200).end('late'), 400);
    });
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 0, breaker: { minimumCalls: 1000, windowSize: 1000 } }, { timeoutMs: 100 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(gw!)));
    for (const res of answers) {
      expect(res.headers.get('x-strangler-fallback')).toBe('timeout');
      await res.arrayBuffer();
    }
  });

  it('never replays a POST that may have reached modern: legacy gets zero copies', async () => {
    const modern = await switchableModern();
    modern.mode.now = 'reset-after-body';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 2 });
    const res = await get(gw, '/orders', { method: 'POST', body: '{"amount":100}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(502);
    expect(gw.legacy.received).toHaveLength(0);
    expect(modern.received).toHaveLength(1); // not retried either: it may have been applied
  });

  it('replays a PUT (idempotent, buffered body) to legacy with the same body', async () => {
    const modern = await switchableModern();
    modern.mode.now = 'reset-after-body';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 0 });
    const res = await get(gw, '/orders/9', { method: 'PUT', body: '{"n":9}' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-strangler-fallback')).toBe('connect-error');
    expect(gw.legacy.received[0]).toMatchObject({ method: 'PUT', url: '/orders/9' });
  });

  it('retries a POST carrying an Idempotency-Key on modern, never on legacy', async () => {
    const modern = await switchableModern();
    modern.mode.now = 'reset-after-body';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 2 });
    const res = await get(gw, '/orders', { method: 'POST', body: '{}', headers: { 'idempotency-key': 'k-1' } });
    expect(res.status).toBe(502);
    expect(modern.received).toHaveLength(3);
    expect(gw.legacy.received).toHaveLength(0);
  });

  it('with fallback off, gives the client the failure', async () => {
    gw = await startTestGateway();
    await gw.modern.close();
    await addRoute(gw, { retries: 0, fallback: false });
    const res = await get(gw);
    expect(res.status).toBe(502);
    expect(((await res.json()) as any).error.code).toBe('UPSTREAM_CONNECT_ERROR');
    expect(gw.legacy.received).toHaveLength(0);
  });

  it('serves unported endpoints (fall-through statuses) from legacy, for safe methods only', async () => {
    const modern = await startBackend('modern', (req, res) => {
      req.resume();
      res.writeHead(req.url === '/orders/ported' ? 200 : 404).end();
    });
    gw = await startTestGateway({ modern });
    await addRoute(gw, { fallthroughStatuses: [404, 501] });
    const unported = await get(gw, '/orders/legacy-only');
    expect(unported.headers.get('x-strangler-backend')).toBe('legacy');
    expect(unported.headers.get('x-strangler-fallback')).toBe('fallthrough-404');
    const ported = await get(gw, '/orders/ported');
    expect(ported.headers.get('x-strangler-backend')).toBe('modern');
    const post = await get(gw, '/orders/legacy-only', { method: 'POST', body: '{}' });
    expect(post.status).toBe(404);
    expect(post.headers.get('x-strangler-backend')).toBe('modern');
  });
});

describe('retries', () => {
  it.each([
    [0, 1],
    [1, 2],
    [3, 4],
  ])('with retries=%i a failing GET reaches modern exactly %i times (no hidden library retries)', async (retries, hits) => {
    const modern = await switchableModern();
    modern.mode.now = '503';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries, fallback: false, breaker: { minimumCalls: 20, windowSize: 20 } });
    const res = await get(gw);
    expect(res.status).toBe(503); // the backend's own answer, passed through once retries are spent
    expect(modern.received).toHaveLength(hits);
  });

  it('a retry budget caps the extra load a dead backend sees', async () => {
    const modern = await switchableModern();
    modern.mode.now = '503';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 5, fallback: false, breaker: { minimumCalls: 1000, windowSize: 1000 } });
    const requests = 200;
    for (let i = 0; i < requests; i++) await (await get(gw)).arrayBuffer();
    const extra = modern.received.length - requests;
    // Budget: 20% of requests plus a floor of 5/s over its 10 s window. Without it: 5 × 200 = 1,000.
    expect(extra).toBeGreaterThan(0);
    expect(extra).toBeLessThanOrEqual(requests * 0.2 + 50);
  });

  it('stops retrying at the deadline, and honours a shorter deadline from the client', async () => {
    const modern = await switchableModern();
    modern.mode.now = 'hang';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 5, fallback: false, deadlineMs: 60_000 }, { timeoutMs: 10_000 });
    const started = Date.now();
    const res = await get(gw, '/orders/1', { headers: { 'x-strangler-deadline-ms': '300' } });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3_000);
    const forwarded = Number(modern.received[0]!.headers['x-strangler-deadline-ms']);
    expect(forwarded).toBeGreaterThan(0);
    expect(forwarded).toBeLessThanOrEqual(300);
  });
});

describe('circuit breaker', () => {
  it('opens on 503s, keeps modern untouched while open, and closes after half-open probes succeed', async () => {
    const modern = await switchableModern();
    modern.mode.now = '503';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 0, breaker: { windowSize: 4, minimumCalls: 4, openMs: 400, halfOpenProbes: 2 } });
    for (let i = 0; i < 4; i++) {
      const res = await get(gw);
      expect(res.headers.get('x-strangler-fallback')).toBe('upstream-5xx');
      await res.arrayBuffer();
    }
    const hitsWhenOpened = modern.received.length;
    const open = await admin(gw, 'GET', '/breakers');
    expect(open.body.breakers[0]).toMatchObject({ routeId: 'orders', state: 'open', failureRatePercent: 100 });
    for (let i = 0; i < 10; i++) {
      const res = await get(gw);
      expect(res.headers.get('x-strangler-fallback')).toBe('breaker-open');
      await res.arrayBuffer();
    }
    expect(modern.received.length).toBe(hitsWhenOpened);
    modern.mode.now = 'ok';
    await sleep(450);
    for (let i = 0; i < 2; i++) expect((await get(gw)).headers.get('x-strangler-backend')).toBe('modern');
    expect((await admin(gw, 'GET', '/breakers')).body.breakers[0].state).toBe('closed');
  });

  it('gives 503 CIRCUIT_OPEN with Retry-After when fallback is off, and can be reset by hand', async () => {
    const modern = await switchableModern();
    modern.mode.now = '503';
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 0, fallback: false, breaker: { windowSize: 2, minimumCalls: 2, openMs: 60_000 } });
    for (let i = 0; i < 2; i++) await (await get(gw)).arrayBuffer();
    const refused = await get(gw);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(((await refused.json()) as any).error.code).toBe('CIRCUIT_OPEN');
    const reset = await admin(gw, 'POST', '/breakers/orders/reset');
    expect(reset.body.state).toBe('closed');
    modern.mode.now = 'ok';
    expect((await get(gw)).status).toBe(200);
    expect((await admin(gw, 'POST', '/breakers/nope/reset')).status).toBe(404);
  });

  it('does not count 4xx answers as failures', async () => {
    const modern = await startBackend('modern', (req, res) => {
      req.resume();
      res.writeHead(404).end();
    });
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 0, breaker: { windowSize: 2, minimumCalls: 2 } });
    for (let i = 0; i < 5; i++) expect((await get(gw)).status).toBe(404);
    expect((await admin(gw, 'GET', '/breakers')).body.breakers[0].state).toBe('closed');
  });
});

describe('bulkheads', () => {
  it('sends modern-bound requests to legacy when modern is full, and legacy traffic keeps flowing', async () => {
    const modern = await switchableModern();
    modern.mode.now = 'hang';
    gw = await startTestGateway({ modern, config: { modernMaxInFlight: 2 } });
    await addRoute(gw, { retries: 0 }, { timeoutMs: 5_000 });
    const stuck = [get(gw, '/orders/a'), get(gw, '/orders/b')];
    await sleep(100);
    const overflow = await get(gw, '/orders/c');
    expect(overflow.headers.get('x-strangler-backend')).toBe('legacy');
    expect(overflow.headers.get('x-strangler-fallback')).toBe('bulkhead-full');
    const started = Date.now();
    for (let i = 0; i < 20; i++) expect((await get(gw, '/legacy-page')).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2_000);
    modern.mode.now = 'ok';
    await gw.modern.close();
    await Promise.allSettled(stuck);
  });

  it('answers a fast 503 with Retry-After when legacy is full', async () => {
    const legacy = await startBackend('legacy', () => {
      /* never answers */
    });
    gw = await startTestGateway({ legacy, config: { legacyMaxInFlight: 1 } });
    const stuck = fetch(gw.proxyUrl + '/slow').catch(() => undefined);
    await sleep(100);
    const res = await fetch(gw.proxyUrl + '/other');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as any).error.code).toBe('BACKEND_BUSY');
    await legacy.close();
    await stuck;
  });
});

describe('resilience settings through the admin API', () => {
  it('merges a partial breaker change and keeps the other defaults', async () => {
    gw = await startTestGateway();
    await addRoute(gw, {});
    const res = await admin(gw, 'PATCH', '/routes/orders', { resilience: { breaker: { openMs: 5_000 } } });
    expect(res.status).toBe(200);
    expect(res.body.resilience).toMatchObject({ retries: 1, fallback: true, breaker: { openMs: 5_000, windowSize: 20, minimumCalls: 10 } });
  });

  it('stores hedge settings, and refuses dropping the cap while a percentile needs it', async () => {
    gw = await startTestGateway();
    await addRoute(gw, {});
    expect((await admin(gw, 'GET', '/routes/orders')).body.resilience).toMatchObject({ hedgeAfterMs: null, hedgePercentile: null });
    const set = await admin(gw, 'PATCH', '/routes/orders', { resilience: { hedgeAfterMs: 250, hedgePercentile: 95 } });
    expect(set.status).toBe(200);
    expect(set.body.resilience).toMatchObject({ hedgeAfterMs: 250, hedgePercentile: 95, retries: 1 });
    const drop = await admin(gw, 'PATCH', '/routes/orders', { resilience: { hedgeAfterMs: null } });
    expect(drop.status).toBe(400);
    expect(drop.body.error.message).toContain('resilience.hedgePercentile');
    const off = await admin(gw, 'PATCH', '/routes/orders', { resilience: { hedgeAfterMs: null, hedgePercentile: null } });
    expect(off.body.resilience).toMatchObject({ hedgeAfterMs: null, hedgePercentile: null });
  });

  it('refuses a route file whose settings break a rule across fields with a 400 naming the entry, never a 500', async () => {
    gw = await startTestGateway();
    for (const resilience of [{ hedgePercentile: 95 }, { breaker: { minimumCalls: 50 } }]) {
      const res = await admin(gw, 'POST', '/apply', { routes: [{ id: 'a', pathPrefix: '/a', resilience }], dryRun: true });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.message).toMatch(/^routes\[0\] \(a\)\.resilience\./);
    }
  });

  it.each([
    [{ breaker: { minimumCalls: 50 } }, 'resilience.breaker.minimumCalls'],
    [{ retries: 9 }, 'resilience.retries'],
    [{ bogus: true }, 'resilience'],
    [{ fallthroughStatuses: [200] }, 'resilience.fallthroughStatuses.0'],
    [{ hedgeAfterMs: 0 }, 'resilience.hedgeAfterMs'],
    [{ hedgePercentile: 95 }, 'resilience.hedgePercentile'],
    [{ hedgeAfterMs: 200, hedgePercentile: 99.9 }, 'resilience.hedgePercentile'],
  ])('refuses %j with a 400 naming %s, never a 500', async (resilience, field) => {
    gw = await startTestGateway();
    await addRoute(gw, {});
    const res = await admin(gw, 'PATCH', '/routes/orders', { resilience });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    expect(res.body.error.message).toContain(field);
    expect((await admin(gw, 'GET', '/routes/orders')).body.version).toBe(1);
  });
});

it('honours Retry-After on a 429 before retrying', async () => {
  let calls = 0;
  const modern = await startBackend('modern', (req, res) => {
    req.resume();
    calls++;
    if (calls === 1) res.writeHead(429, { 'retry-after': '0' }).end();
    else res.writeHead(200).end('ok');
  });
  gw = await startTestGateway({ modern });
  await addRoute(gw, { retries: 1, fallback: false });
  const res = await get(gw);
  expect(res.status).toBe(200);
  expect(calls).toBe(2);
});

/**
 * A backend whose connections never open: a listening socket nobody accepts from, its one-slot
 * accept queue filled, so the kernel drops further SYNs. Node always accepts, hence python3.
 */
async function blackholeBackend(): Promise<StubBackend & { filler: net.Socket }> {
  const py = spawn('python3', ['-c', BLACKHOLE], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => py.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  const filler = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => filler.once('connect', resolve));
  return {
    name: 'blackhole',
    url: `http://127.0.0.1:${port}`,
    received: [],
    server: undefined as never,
    filler,
    async close() {
      filler.destroy();
      py.kill();
    },
  };
}
const BLACKHOLE = "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)";
const hasPython = spawnSync('python3', ['-c', '']).status === 0;

describe.skipIf(!hasPython)('per-route connect timeout', () => {
  it('fails over to legacy when modern does not accept in time, for any method (nothing was sent)', async () => {
    const modern = await blackholeBackend();
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 0, connectTimeoutMs: 150 });
    const started = Date.now();
    const res = await get(gw, '/orders', { method: 'POST', body: '{"amount":1}', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-strangler-backend')).toBe('legacy');
    expect(res.headers.get('x-strangler-fallback')).toBe('connect-error');
    expect(gw.legacy.received).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(3_000); // the pool's own timeout is 5 s
  });

  it('with fallback off, answers 502 UPSTREAM_CONNECT_ERROR after the route timeout', async () => {
    const modern = await blackholeBackend();
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 1, fallback: false, connectTimeoutMs: 100 });
    const res = await get(gw);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('UPSTREAM_CONNECT_ERROR');
    expect(gw.legacy.received).toHaveLength(0);
  });

  it('a hedge that wins while modern is still connecting: the cancelled try\'s connect timer never fires', async () => {
    const modern = await blackholeBackend();
    gw = await startTestGateway({ modern });
    await addRoute(gw, { retries: 0, connectTimeoutMs: 200, hedgeAfterMs: 20 });
    const res = await get(gw);
    expect(res.headers.get('x-strangler-fallback')).toBe('hedge');
    expect(await res.text()).toContain('legacy');
    await sleep(400); // past the connect timeout: nothing more may happen to the answered request
    const after = await get(gw, '/plain');
    expect(after.status).toBe(200);
    expect(gw.legacy.received).toHaveLength(2);
    const breakers = (await admin(gw, 'GET', '/breakers')).body.breakers[0];
    expect(breakers).toMatchObject({ callsInWindow: 0 }); // released, not a failure
  });

  it('refuses a connect timeout above the pool limit', async () => {
    gw = await startTestGateway();
    const res = await admin(gw, 'POST', '/routes', { pathPrefix: '/x', resilience: { connectTimeoutMs: 60_000 } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('connectTimeoutMs');
  });
});
