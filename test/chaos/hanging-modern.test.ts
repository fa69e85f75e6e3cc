import { afterEach, describe, expect, it } from 'vitest';
import { measure, sleep } from '../helpers/load.js';
import { admin, startBackend, startTestGateway, type TestGateway } from '../helpers/servers.js';

/**
 * What a failing modern costs users: a route in modern mode with `timeoutMs: 300` and the
 * default resilience while modern hangs (every GET is still served, by legacy), and a route
 * whose modern is slow with hedging on. Prints `[figures]` lines for the README.
 */
const CHAOS = process.env.CHAOS === '1';
const REQUESTS = CHAOS ? 400 : 80;

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

describe('a hanging modern', () => {
  it(`${REQUESTS} GETs with the default resilience: all answered by legacy, p99 about one timeout`, async () => {
    const modern = await startBackend('modern', (req) => req.resume()); // never answers
    gw = await startTestGateway({ modern });
    const created = await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', timeoutMs: 300 });
    expect(created.status).toBe(201);
    const latency = await measure(gw.proxyUrl + '/orders/1', REQUESTS, 8);
    console.log(
      `[figures] hanging modern (timeoutMs 300, default resilience, ${REQUESTS} GETs, 8 connections): ` +
        `errors ${latency.errors}, p50 ${latency.p50} ms, p99 ${latency.p99} ms, slowest ${latency.max} ms; modern saw ${modern.received.length} tries`,
    );
    expect(latency.errors).toBe(0);
    expect(gw.legacy.received).toHaveLength(REQUESTS);
  }, 120_000);
});

/** A modern whose every `every`-th request takes `slowMs`; the others are answered at once. */
async function slowTail(every: number, slowMs: number) {
  let n = 0;
  return startBackend('modern', (req, res) => {
    req.resume();
    const slow = ++n % every === 0;
    setTimeout(() => res.destroyed || res.writeHead(200, { 'content-type': 'application/json' }).end('{"servedBy":"modern"}'), slow ? slowMs : 0);
  });
}

async function hedgeCount(g: TestGateway, winner: string): Promise<number> {
  const text = await fetch(`${g.adminUrl}/metrics`).then((r) => r.text());
  return Number(new RegExp(`strangler_hedges_total\\{route="orders",winner="${winner}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

describe('hedging a slow tail', () => {
  const N = 400; // fixed: hedges draw on legacy's retry budget (50 per 10 s with no other legacy traffic)

  it.each([
    ['off', {}],
    ['hedgeAfterMs 50', { hedgeAfterMs: 50 }],
  ])('every 10th request 400 ms slow on modern, hedging %s', async (label, resilience) => {
    gw = await startTestGateway({ modern: await slowTail(10, 400) });
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', resilience });
    const latency = await measure(gw.proxyUrl + '/orders/1', N, 8);
    const won = await hedgeCount(gw, 'legacy');
    console.log(
      `[figures] slow tail (10% of modern at 400 ms, ${N} GETs, 8 connections), hedging ${label}: ` +
        `p50 ${latency.p50} ms, p99 ${latency.p99} ms, slowest ${latency.max} ms; hedges won by legacy ${won}, by modern ${await hedgeCount(gw, 'modern')}`,
    );
    expect(latency.errors).toBe(0);
    if (label === 'off') expect(gw.legacy.received).toHaveLength(0);
    else expect(won).toBe(N / 10);
  }, 60_000);

  it('p95 mode: 3% of modern at 400 ms, hedgePercentile 95 capped at 200 ms: only the tail is hedged', async () => {
    gw = await startTestGateway({ modern: await slowTail(33, 400) });
    await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', resilience: { hedgeAfterMs: 200, hedgePercentile: 95 } });
    await measure(gw.proxyUrl + '/orders/1', 200, 8); // the window learns modern's latency
    await sleep(1_200); // the delays are recomputed once a second
    const before = (await hedgeCount(gw, 'legacy')) + (await hedgeCount(gw, 'modern'));
    const latency = await measure(gw.proxyUrl + '/orders/1', N, 8);
    const hedged = (await hedgeCount(gw, 'legacy')) + (await hedgeCount(gw, 'modern')) - before;
    console.log(
      `[figures] p95 hedging (3% of modern at 400 ms, hedgePercentile 95, cap 200 ms, ${N} GETs): ` +
        `p50 ${latency.p50} ms, p99 ${latency.p99} ms, slowest ${latency.max} ms; ${hedged} hedged (${Math.floor(N / 33)} slow)`,
    );
    expect(latency.errors).toBe(0);
    expect(hedged).toBeGreaterThanOrEqual(Math.floor(N / 33));
    expect(hedged).toBeLessThan(N / 4); // the tail, not every request
  }, 60_000);
});
