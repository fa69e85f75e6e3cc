import { afterEach, describe, expect, it } from 'vitest';
import { measure } from '../helpers/load.js';
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
