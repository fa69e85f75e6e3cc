import { afterEach, describe, expect, it } from 'vitest';
import type { HostHeaderMode } from '../../src/backends/schema.js';
import { rawGet, rawRequest } from '../helpers/raw-http.js';
import { admin, startBackend, startTestGateway, type StubBackend, type TestGateway } from '../helpers/servers.js';

/** The Host a backend receives, per backend (`hostHeader`, set through the API), and per try within one request. */
let gw: TestGateway | undefined;
let backends: StubBackend[] = [];
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  backends = [];
});

async function start(legacyMode: HostHeaderMode | undefined, modernMode: HostHeaderMode | undefined, modernStatus = 200): Promise<number> {
  const legacy = await startBackend('legacy');
  const modern = await startBackend('modern', (req, res) => {
    req.resume();
    res.writeHead(modernStatus, { 'content-length': '0' }).end();
  });
  backends = [legacy, modern];
  gw = await startTestGateway({ legacy, modern });
  for (const [name, mode] of [['legacy', legacyMode], ['modern', modernMode]] as const) {
    if (mode !== undefined) expect((await admin(gw, 'PATCH', `/backends/${name}`, { hostHeader: mode })).status).toBe(200);
  }
  expect((await admin(gw, 'POST', '/routes', { pathPrefix: '/shop', mode: 'modern', resilience: { retries: 0 } })).status).toBe(201);
  return Number(new URL(gw.proxyUrl).port);
}

const hostOf = (backend: StubBackend) => backend.received.at(-1)!.headers.host;
const authorityOf = (backend: StubBackend) => new URL(backend.url).host;

describe('hostHeader', () => {
  it('sends the client\'s Host by default, and X-Forwarded-Host with it', async () => {
    const port = await start(undefined, undefined);
    const res = await rawGet(port, '/other'); // Host: gw.test
    expect(res.status).toBe(200);
    const [legacy] = backends;
    expect(hostOf(legacy!)).toBe('gw.test');
    expect(legacy!.received.at(-1)!.headers['x-forwarded-host']).toBe('gw.test');
    expect(legacy!.received.at(-1)!.rawHeaders.filter((h) => h.toLowerCase() === 'host')).toHaveLength(1);
  });

  it('sends the backend\'s own authority in "backend" mode, with the client\'s in X-Forwarded-Host', async () => {
    const port = await start('backend', undefined);
    await rawGet(port, '/other');
    const [legacy] = backends;
    expect(hostOf(legacy!)).toBe(authorityOf(legacy!));
    expect(legacy!.received.at(-1)!.headers['x-forwarded-host']).toBe('gw.test');
  });

  it('keeps a backend\'s hostHeader when a later change leaves it out', async () => {
    await start(undefined, 'backend');
    expect((await admin(gw!, 'PATCH', '/backends/modern', { maxInFlight: 10 })).body).toMatchObject({ hostHeader: 'backend', maxInFlight: 10 });
  });

  it('decides per try: a modern try in "backend" mode, its fallback to legacy in "client" mode', async () => {
    const port = await start('client', 'backend', 503);
    const res = await rawGet(port, '/shop/1');
    expect(res.headers['x-strangler-fallback']).toBe('upstream-5xx');
    const [legacy, modern] = backends;
    expect(hostOf(modern!)).toBe(authorityOf(modern!));
    expect(hostOf(legacy!)).toBe('gw.test');
  });

  it('sends the backend\'s authority when an HTTP/1.0 client sent no Host', async () => {
    const port = await start(undefined, undefined);
    const res = await rawRequest(port, 'GET /x HTTP/1.0\r\n\r\n');
    expect(res.status).toBe(200);
    expect(hostOf(backends[0]!)).toBe(authorityOf(backends[0]!));
  });
});
