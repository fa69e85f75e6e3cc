import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { admin, startTestGateway, type TestGateway } from '../helpers/servers.js';
import { cannedBackend, compared, reportWhen, shadowRoute } from '../helpers/shadow.js';

const gateways: TestGateway[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.stop();
});

async function start(modernDelayMs?: number, shared?: TestGateway): Promise<TestGateway> {
  const answer = { body: { id: 1 } };
  const gw = await startTestGateway({
    legacy: shared?.legacy ?? (await cannedBackend('legacy', { '/s/a': answer, '/l/a': answer })),
    modern: shared?.modern ?? (await cannedBackend('modern', { '/s/a': { ...answer, delayMs: modernDelayMs } })),
    ...(shared ? { config: { db: shared.db } } : {}),
  });
  gateways.push(gw);
  return gw;
}

const send = (gw: TestGateway, path: string, init?: RequestInit) => fetch(gw.proxyUrl + path, init).then(async (r) => ({ status: r.status, body: await r.text() }));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function clientMs(gw: TestGateway, path: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    expect((await send(gw, path)).status).toBe(200);
    times.push(performance.now() - t);
  }
  return times;
}

describe('shadow mode: the client never pays for the copy', () => {
  it('a slow modern leaves client latency as in legacy mode; the copy is an error after its timeout', async () => {
    const gw = await start(1_500);
    await shadowRoute(gw, 's', '/s', { noisePercent: 0 }, { timeoutMs: 300 });
    expect((await admin(gw, 'POST', '/routes', { id: 'l', pathPrefix: '/l', mode: 'legacy' })).status).toBe(201);
    const legacyOnly = await clientMs(gw, '/l/a', 8);
    const shadowed = await clientMs(gw, '/s/a', 8);
    // Generous: a client that waited for the copy would wait its whole 300 ms timeout (modern takes 1.5 s).
    expect(median(shadowed)).toBeLessThan(median(legacyOnly) + 250);
    const report = await reportWhen(gw, 's', compared(8));
    expect(report).toMatchObject({ compared: 8, errors: 8, matched: 0, mismatched: 0, matchRate: null });
  });

  it('a hanging modern: clients are answered, and shutdown does not wait for the copies (nor count them)', async () => {
    const gw = await start(60_000);
    await shadowRoute(gw, 's', '/s', { noisePercent: 0 });
    const answers = await Promise.all([1, 2].map(() => send(gw, '/s/a')));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    await gw.close(); // would wait for the route's 30 s timeout if shutdown waited for copies
    const again = await start(undefined, gw);
    expect((await admin(again, 'GET', '/routes/s/shadow')).body).toMatchObject({ compared: 0, errors: 0 });
  });

  it('a full shadow bulkhead skips the copy and counts it, never queues it', async () => {
    const gw = await start(1_000);
    await shadowRoute(gw, 's', '/s', { maxInFlight: 1, noisePercent: 0 });
    const answers = await Promise.all([1, 2, 3].map(() => send(gw, '/s/a')));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const report = await reportWhen(gw, 's', (r) => r.skipped.total >= 2);
    expect(report.skipped).toEqual({ total: 2, byReason: { bulkheadFull: 2, bodyTooLarge: 0, notSampled: 0, method: 0 } });
    // The one copy leaves from the copy thread, perhaps after the skips were counted.
    await vi.waitFor(() => expect(gw.modern.received).toHaveLength(1));
  });
});

describe('shadow mode: never a duplicated write', () => {
  const post = (gw: TestGateway, headers: Record<string, string> = {}) =>
    send(gw, '/s/a', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"qty":2}' });

  it('a POST is not copied unless opted in, and then only with an Idempotency-Key', async () => {
    const gw = await start();
    await shadowRoute(gw, 's', '/s', { noisePercent: 100 });
    expect((await post(gw, { 'idempotency-key': 'k1' })).status).toBe(200);
    await admin(gw, 'PATCH', '/routes/s', { shadow: { methods: ['GET', 'POST'] } });
    await new Promise((r) => setTimeout(r, 150)); // the live table polls the database
    expect((await post(gw)).status).toBe(200);
    const report = await reportWhen(gw, 's', (r) => r.skipped.byReason.method >= 2);
    expect(report.compared).toBe(0);
    expect(gw.modern.received).toHaveLength(0);
    expect(gw.legacy.received).toHaveLength(2);
  });

  it('an opted-in POST with an Idempotency-Key is copied once to modern; legacy sees it once', async () => {
    const gw = await start();
    await shadowRoute(gw, 's', '/s', { methods: ['GET', 'POST'], noisePercent: 100 });
    expect((await post(gw, { 'idempotency-key': 'k1' })).status).toBe(200);
    await reportWhen(gw, 's', compared(1));
    expect(gw.legacy.received.map((r) => r.method)).toEqual(['POST']);
    expect(gw.modern.received.map((r) => [r.method, r.headers['idempotency-key'], r.headers['x-strangler-shadow']])).toEqual([['POST', 'k1', '1']]);
    expect((gw.modern as unknown as { bodies: string[] }).bodies).toEqual(['{"qty":2}']);
  });

  it("a client's own x-strangler-shadow is never forwarded: only the gateway's copies carry it", async () => {
    const gw = await start();
    await shadowRoute(gw, 's', '/s', { noisePercent: 0 });
    await send(gw, '/s/a', { headers: { 'x-strangler-shadow': '1' } });
    await reportWhen(gw, 's', compared(1));
    expect(gw.legacy.received.map((r) => r.headers['x-strangler-shadow'])).toEqual([undefined]);
    expect(gw.modern.received.map((r) => r.rawHeaders.filter((h) => h.toLowerCase() === 'x-strangler-shadow').length)).toEqual([1]);
  });

  it('a body over 64 KiB is not copied (bodyTooLarge)', async () => {
    const gw = await start();
    await shadowRoute(gw, 's', '/s', { methods: ['PUT'] });
    expect((await send(gw, '/s/a', { method: 'PUT', body: 'x'.repeat(65 * 1024) })).status).toBe(200);
    const report = await reportWhen(gw, 's', (r) => r.skipped.total >= 1);
    expect(report.skipped.byReason.bodyTooLarge).toBe(1);
    expect(gw.modern.received).toHaveLength(0);
  });
});

describe('shadow results: kept, shared, cleared, shown', () => {
  it('survive a restart, are shared by gateways on one database, and DELETE clears them', async () => {
    const first = await start();
    await shadowRoute(first, 's', '/s', { noisePercent: 0 });
    await send(first, '/s/a');
    await reportWhen(first, 's', compared(1));
    const second = await start(undefined, first);
    await send(second, '/s/a');
    // The first gateway sees the second's comparison once the second flushes (every second).
    await reportWhen(first, 's', compared(2));
    await second.close();
    await first.close();
    const third = await start(undefined, first);
    expect(await reportWhen(third, 's', () => true)).toMatchObject({ compared: 2, matched: 2 });

    expect((await admin(third, 'DELETE', '/routes/s/shadow')).status).toBe(204);
    const cleared = (await admin(third, 'GET', '/routes/s/shadow')).body;
    expect(cleared).toMatchObject({ compared: 0, matched: 0, samples: [], matchRate: null });
    expect(cleared.since).not.toBeNull();
  });

  it('answers 404 for an unknown route and zero counts for a route that never ran shadow', async () => {
    const gw = await start();
    expect((await admin(gw, 'GET', '/routes/nope/shadow')).body.error.code).toBe('ROUTE_NOT_FOUND');
    expect((await admin(gw, 'DELETE', '/routes/nope/shadow')).status).toBe(404);
    await admin(gw, 'POST', '/routes', { id: 'l', pathPrefix: '/l' });
    expect((await admin(gw, 'GET', '/routes/l/shadow')).body).toMatchObject({ routeId: 'l', mode: 'legacy', since: null, compared: 0, matchRate: null, samples: [] });
  });

  it('/status gives shadow routes their match rate, and the metrics count comparisons', async () => {
    const gw = await start();
    await shadowRoute(gw, 's', '/s', { noisePercent: 0 });
    await admin(gw, 'POST', '/routes', { id: 'l', pathPrefix: '/l' });
    await send(gw, '/s/a');
    await send(gw, '/s/a', { method: 'DELETE' });
    await reportWhen(gw, 's', compared(1));
    const status = (await admin(gw, 'GET', '/status')).body;
    const byId = Object.fromEntries(status.perRoute.map((r: any) => [r.id, r]));
    expect(byId.s.shadow).toEqual({ matchRate: 1, compared: 1 });
    expect(byId.l.shadow).toBeNull();
    expect(status.routes.shadow).toBe(1);
    const metrics = await fetch(`${gw.adminUrl}/metrics`).then((r) => r.text());
    expect(metrics).toContain('strangler_shadow_comparisons_total{route="s",result="match"} 1');
    expect(metrics).toContain('strangler_shadow_comparisons_total{route="s",result="skipped"} 1');
  });
});
