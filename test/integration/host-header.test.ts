import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { ProxyServer } from '../../src/proxy/proxy.js';
import { createUpstream, type UpstreamOptions } from '../../src/proxy/upstream.js';
import { BreakerRegistry } from '../../src/resilience/breaker-registry.js';
import { RouteTable } from '../../src/routing/route-table.js';
import { DEFAULT_RESILIENCE } from '../../src/routing/schema.js';
import { rawGet, rawRequest } from '../helpers/raw-http.js';
import { route } from '../helpers/routes.js';
import { silentLogger, startBackend, type StubBackend } from '../helpers/servers.js';

/** The Host a backend receives, per backend (`hostHeader`), and per try within one request. */
let proxy: ProxyServer | undefined;
let backends: StubBackend[] = [];
afterEach(async () => {
  await proxy?.close(100);
  await Promise.all(backends.map((b) => b.close()));
  proxy = undefined;
  backends = [];
});

async function start(legacyOptions: UpstreamOptions, modernOptions: UpstreamOptions, modernStatus = 200): Promise<number> {
  const legacy = await startBackend('legacy');
  const modern = await startBackend('modern', (req, res) => {
    req.resume();
    res.writeHead(modernStatus, { 'content-length': '0' }).end();
  });
  backends = [legacy, modern];
  const logger = silentLogger();
  proxy = new ProxyServer({
    routes: { current: new RouteTable([route('/shop', { mode: 'modern', resilience: { ...DEFAULT_RESILIENCE, retries: 0 } })]) },
    upstreams: {
      legacy: createUpstream('legacy', legacy.url, systemClock, legacyOptions),
      modern: createUpstream('modern', modern.url, systemClock, modernOptions),
    },
    logger,
    accessLogger: undefined,
    breakers: new BreakerRegistry(systemClock, logger),
  });
  await proxy.listen(0, '127.0.0.1');
  return (proxy.server.address() as AddressInfo).port;
}

const hostOf = (backend: StubBackend) => backend.received.at(-1)!.headers.host;
const authorityOf = (backend: StubBackend) => new URL(backend.url).host;

describe('hostHeader', () => {
  it('sends the client\'s Host by default, and X-Forwarded-Host with it', async () => {
    const port = await start({}, {});
    const res = await rawGet(port, '/other'); // Host: gw.test
    expect(res.status).toBe(200);
    const [legacy] = backends;
    expect(hostOf(legacy!)).toBe('gw.test');
    expect(legacy!.received.at(-1)!.headers['x-forwarded-host']).toBe('gw.test');
    expect(legacy!.received.at(-1)!.rawHeaders.filter((h) => h.toLowerCase() === 'host')).toHaveLength(1);
  });

  it('sends the backend\'s own authority in "backend" mode, with the client\'s in X-Forwarded-Host', async () => {
    const port = await start({ hostHeader: 'backend' }, {});
    await rawGet(port, '/other');
    const [legacy] = backends;
    expect(hostOf(legacy!)).toBe(authorityOf(legacy!));
    expect(legacy!.received.at(-1)!.headers['x-forwarded-host']).toBe('gw.test');
  });

  it('decides per try: a modern try in "backend" mode, its fallback to legacy in "client" mode', async () => {
    const port = await start({ hostHeader: 'client' }, { hostHeader: 'backend' }, 503);
    const res = await rawGet(port, '/shop/1');
    expect(res.headers['x-strangler-fallback']).toBe('upstream-5xx');
    const [legacy, modern] = backends;
    expect(hostOf(modern!)).toBe(authorityOf(modern!));
    expect(hostOf(legacy!)).toBe('gw.test');
  });

  it('sends the backend\'s authority when an HTTP/1.0 client sent no Host', async () => {
    const port = await start({}, {});
    const res = await rawRequest(port, 'GET /x HTTP/1.0\r\n\r\n');
    expect(res.status).toBe(200);
    expect(hostOf(backends[0]!)).toBe(authorityOf(backends[0]!));
  });
});
