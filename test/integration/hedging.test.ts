import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { admin, startBackend, startTestGateway, type StubBackend, type TestGateway } from '../helpers/servers.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Behaviour = { afterMs: number; then: 'answer' | 'reset' } | 'hang';

/**
 * A backend that answers (or resets) each request after a delay, or never, and counts the
 * requests whose connection the gateway closed before the answer: the cancelled losers.
 */
async function timed(name: string, behaviour: { now: Behaviour }): Promise<StubBackend & { counts: { cancelled: number; answered: number } }> {
  const counts = { cancelled: 0, answered: 0 };
  const backend = await startBackend(name, (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const b = behaviour.now;
    let done = false;
    res.once('close', () => {
      if (!done) counts.cancelled++;
    });
    if (b === 'hang') return;
    setTimeout(() => {
      if (res.destroyed) return;
      done = true;
      if (b.then === 'reset') return req.socket.destroy();
      counts.answered++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ servedBy: name }));
    }, b.afterMs);
  });
  return Object.assign(backend, { counts });
}

async function hedgedRoute(g: TestGateway, resilience: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const res = await admin(g, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', resilience, ...extra });
  expect(res.status).toBe(201);
}

async function metrics(g: TestGateway): Promise<Map<string, number>> {
  const text = await fetch(`${g.adminUrl}/metrics`).then((r) => r.text());
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(strangler_[a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

const hedges = async (g: TestGateway, winner: string) => (await metrics(g)).get(`strangler_hedges_total{route="orders",winner="${winner}"}`) ?? 0;

async function getAll(g: TestGateway, n: number, path = '/orders/1', init?: RequestInit) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(g.proxyUrl + path, init);
      const body = await res.text();
      return { status: res.status, backend: res.headers.get('x-strangler-backend'), fallback: res.headers.get('x-strangler-fallback'), body };
    }),
  );
}

describe('hedging', () => {
  it('modern slower than hedgeAfterMs: legacy wins, modern is cancelled, counted, and never a breaker failure', async () => {
    const modern = await timed('modern', { now: { afterMs: 2_000, then: 'answer' } });
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    gw = await startTestGateway({ modern, config: { logLevel: 'info' }, deps: { logger: pino({ level: 'info' }, sink) } });
    await hedgedRoute(gw, { hedgeAfterMs: 40, breaker: { windowSize: 4, minimumCalls: 4 } });
    const answers = await getAll(gw, 10);
    for (const a of answers) expect(a).toMatchObject({ status: 200, backend: 'legacy', fallback: 'hedge' });
    expect(gw.legacy.received).toHaveLength(10);
    // Modern got each request first, and had its connection closed before answering.
    expect(modern.received).toHaveLength(10);
    for (let i = 0; i < 50 && modern.counts.cancelled < 10; i++) await sleep(10);
    expect(modern.counts.cancelled).toBe(10);
    expect(modern.counts.answered).toBe(0);
    expect(await hedges(gw, 'legacy')).toBe(10);
    expect((await metrics(gw)).get('strangler_fallbacks_total{route="orders",reason="hedge"}')).toBe(10);
    const breaker = (await admin(gw, 'GET', '/breakers')).body.breakers[0];
    expect(breaker).toMatchObject({ state: 'closed', callsInWindow: 0, failuresInWindow: 0 });
    await sleep(600); // the access log is written in batches
    const access = lines.filter((l) => l.msg === 'request');
    expect(access).toHaveLength(10);
    for (const l of access) expect(l).toMatchObject({ backend: 'legacy', fallback: 'hedge', hedge: 'legacy', tries: 2 });
  });

  it('modern fast: no hedges, legacy sees nothing', async () => {
    gw = await startTestGateway();
    await hedgedRoute(gw, { hedgeAfterMs: 1_000 });
    const answers = await getAll(gw, 20);
    for (const a of answers) expect(a).toMatchObject({ status: 200, backend: 'modern', fallback: null });
    expect(gw.legacy.received).toHaveLength(0);
    expect(await hedges(gw, 'legacy')).toBe(0);
    expect(await hedges(gw, 'modern')).toBe(0);
  });

  it('modern answering first after the hedge went out wins, and the copy to legacy is cancelled', async () => {
    const modern = await timed('modern', { now: { afterMs: 150, then: 'answer' } });
    const legacy = await timed('legacy', { now: 'hang' });
    gw = await startTestGateway({ modern, legacy });
    await hedgedRoute(gw, { hedgeAfterMs: 20 });
    const answers = await getAll(gw, 5);
    for (const a of answers) expect(a).toMatchObject({ status: 200, backend: 'modern', fallback: null });
    expect(legacy.received).toHaveLength(5);
    for (let i = 0; i < 50 && legacy.counts.cancelled < 5; i++) await sleep(10);
    expect(legacy.counts.cancelled).toBe(5);
    expect(await hedges(gw, 'modern')).toBe(5);
  });

  it('modern resetting after the hedge went out: the client waits for legacy, and the breaker counts the failure', async () => {
    const modern = await timed('modern', { now: { afterMs: 60, then: 'reset' } });
    const legacy = await timed('legacy', { now: { afterMs: 150, then: 'answer' } });
    gw = await startTestGateway({ modern, legacy });
    await hedgedRoute(gw, { hedgeAfterMs: 20, retries: 3 });
    const [a] = await getAll(gw, 1);
    expect(a).toMatchObject({ status: 200, backend: 'legacy', fallback: 'hedge' });
    expect(modern.received).toHaveLength(1); // no retry on modern, no third try
    expect(legacy.received).toHaveLength(1);
    expect((await admin(gw, 'GET', '/breakers')).body.breakers[0]).toMatchObject({ callsInWindow: 1, failuresInWindow: 1 });
  });

  it('legacy failing while modern is pending: the client waits for modern', async () => {
    const modern = await timed('modern', { now: { afterMs: 120, then: 'answer' } });
    const legacy = await timed('legacy', { now: { afterMs: 0, then: 'reset' } });
    gw = await startTestGateway({ modern, legacy });
    await hedgedRoute(gw, { hedgeAfterMs: 20 });
    const [first] = await getAll(gw, 1);
    expect(first).toMatchObject({ status: 200, backend: 'modern', fallback: null });
    expect(legacy.received).toHaveLength(1);
    expect(modern.received).toHaveLength(1);
    expect(await hedges(gw, 'modern')).toBe(1);
  });

  it('both failing after the hedge: one error answer, no third try', async () => {
    const modern = await timed('modern', { now: { afterMs: 100, then: 'reset' } });
    const legacy = await timed('legacy', { now: { afterMs: 30, then: 'reset' } });
    gw = await startTestGateway({ modern, legacy });
    await hedgedRoute(gw, { hedgeAfterMs: 20, retries: 2 });
    const [a] = await getAll(gw, 1);
    expect(a!.status).toBe(502);
    expect(JSON.parse(a!.body).error.code).toBe('UPSTREAM_ERROR');
    expect(modern.received).toHaveLength(1);
    expect(legacy.received).toHaveLength(1);
    expect(await hedges(gw, 'none')).toBe(1);
  });

  it('never hedges a POST (even with Idempotency-Key) or a streamed body, nor on a route without fallback', async () => {
    const modern = await timed('modern', { now: { afterMs: 100, then: 'answer' } });
    gw = await startTestGateway({ modern });
    await hedgedRoute(gw, { hedgeAfterMs: 10 });
    const post = await getAll(gw, 1, '/orders', { method: 'POST', body: '{}', headers: { 'idempotency-key': 'k-1' } });
    expect(post[0]).toMatchObject({ status: 200, backend: 'modern' });
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"n":1}'));
        c.close();
      },
    });
    const put = await fetch(gw.proxyUrl + '/orders/1', { method: 'PUT', body: chunked, duplex: 'half' } as RequestInit);
    await put.arrayBuffer();
    expect(put.headers.get('x-strangler-backend')).toBe('modern');
    await admin(gw, 'PATCH', '/routes/orders', { resilience: { fallback: false } });
    expect((await getAll(gw, 1))[0]).toMatchObject({ status: 200, backend: 'modern' });
    expect(gw.legacy.received).toHaveLength(0);
  });

  it('the retry budget bounds hedges: legacy gets at most its reserve of 50, the rest are refused and counted', async () => {
    const modern = await timed('modern', { now: { afterMs: 80, then: 'answer' } });
    gw = await startTestGateway({ modern });
    await hedgedRoute(gw, { hedgeAfterMs: 5 });
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(...(await getAll(gw, 10)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const m = await metrics(gw);
    expect(gw.legacy.received).toHaveLength(50); // 5/s over the 10 s window; legacy saw no other requests
    expect(answers.filter((a) => a.fallback === 'hedge')).toHaveLength(50);
    expect(m.get('strangler_retry_budget_refusals_total{backend="legacy",side="legacy"}')).toBe(30);
    expect(m.get('strangler_retries_total{backend="legacy",side="legacy"}')).toBe(50);
  });

  it("legacy's bulkhead bounds hedges: a full one means no hedge, never a queue or a 503", async () => {
    const modern = await timed('modern', { now: { afterMs: 200, then: 'answer' } });
    const legacy = await timed('legacy', { now: { afterMs: 1_000, then: 'answer' } });
    gw = await startTestGateway({ modern, legacy, config: { legacyMaxInFlight: 2 } });
    await hedgedRoute(gw, { hedgeAfterMs: 10 });
    const answers = await getAll(gw, 8);
    for (const a of answers) expect(a).toMatchObject({ status: 200, backend: 'modern' });
    expect(legacy.received).toHaveLength(2);
    expect(await hedges(gw, 'modern')).toBe(2);
  });

  it('percentile mode: after the refresh, the delay follows modern\'s p95, far below the cap, so the slow tail is hedged', async () => {
    const behaviour: { now: Behaviour } = { now: { afterMs: 0, then: 'answer' } };
    const modern = await timed('modern', behaviour);
    gw = await startTestGateway({ modern });
    await hedgedRoute(gw, { hedgeAfterMs: 5_000, hedgePercentile: 95 });
    for (let i = 0; i < 4; i++) await getAll(gw, 10); // fast tries fill the window
    expect(await hedges(gw, 'legacy')).toBe(0);
    await sleep(1_200); // the delays are recomputed once a second
    behaviour.now = { afterMs: 2_000, then: 'answer' };
    const slow = await getAll(gw, 10);
    // With the cap (5 s) they would have waited for modern; at modern's p95 (the 10 ms floor) legacy answers.
    for (const a of slow) expect(a).toMatchObject({ status: 200, backend: 'legacy', fallback: 'hedge' });
    expect(await hedges(gw, 'legacy')).toBe(10);
  });

  it('1,000 hedged requests leave no sockets behind: the losers are closed, both bulkheads empty', async () => {
    const modern = await timed('modern', { now: 'hang' });
    gw = await startTestGateway({ modern });
    await hedgedRoute(gw, { hedgeAfterMs: 2 }, { timeoutMs: 30_000 });
    const hedged = 1_000;
    let next = 0;
    // Legacy's own traffic funds the hedges' retry budget (20% of its requests): 5 plain requests per hedge.
    const worker = async () => {
      while (next < hedged) {
        next++;
        for (let i = 0; i < 5; i++) await (await fetch(gw!.proxyUrl + '/plain')).arrayBuffer();
        const res = await fetch(gw!.proxyUrl + '/orders/1');
        await res.arrayBuffer();
        expect(res.headers.get('x-strangler-fallback')).toBe('hedge');
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    for (let i = 0; i < 100 && modern.counts.cancelled < hedged; i++) await sleep(20);
    expect(modern.counts.cancelled).toBe(hedged);
    const open = await new Promise<number>((resolve) => modern.server.getConnections((_err, n) => resolve(n)));
    const m = await metrics(gw);
    console.log(`[figures] hedging: ${hedged} hedged requests, modern connections open afterwards ${open}, modern in flight ${m.get('strangler_in_flight_requests{backend="modern",side="modern"}')}`);
    // Each loser's socket is destroyed; what stays open is at most one idle connection per client connection.
    expect(open).toBeLessThanOrEqual(8);
    expect(m.get('strangler_in_flight_requests{backend="modern",side="modern"}')).toBe(0);
    expect(m.get('strangler_in_flight_requests{backend="legacy",side="legacy"}')).toBe(0);
    expect(await hedges(gw, 'legacy')).toBe(hedged);
  }, 60_000);
});
