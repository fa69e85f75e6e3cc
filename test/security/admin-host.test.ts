import http from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { allowedHostnames, checkHost } from '../../src/admin/host-check.js';
import { GatewayError } from '../../src/errors.js';
import { startTestGateway, type TestGateway } from '../helpers/servers.js';

/**
 * DNS rebinding: a page on evil.example whose name is re-pointed at 127.0.0.1 makes the browser
 * call the loopback admin API with `Host: evil.example`. The admin API answers only the names
 * it is configured for.
 */

const gateways: TestGateway[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});

async function start(config: Parameters<typeof startTestGateway>[0] = {}): Promise<TestGateway> {
  const gateway = await startTestGateway(config);
  gateways.push(gateway);
  return gateway;
}

/** GET with a Host header of our choosing (fetch forbids setting it); `null` sends none. */
function getWithHost(url: string, host: string | null, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: hostname.replace(/^\[|\]$/g, ''), port, path: new URL(url).pathname, headers, setHost: host !== null },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: text === '' ? undefined : JSON.parse(text) }));
      },
    );
    if (host !== null) req.setHeader('host', host);
    req.on('error', reject);
    req.end();
  });
}

const refused = (header: string | undefined, allowed: ReturnType<typeof allowedHostnames>) => {
  try {
    checkHost(header, allowed);
    return false;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('HOST_NOT_ALLOWED');
    return true;
  }
};

describe('which Host headers the admin API answers', () => {
  const loopback = allowedHostnames('127.0.0.1', []);

  it.each([
    'localhost',
    'localhost:9901',
    'LOCALHOST:9901',
    '127.0.0.1',
    '127.0.0.1:9901',
    '127.0.0.1:1',
    '[::1]',
    '[::1]:9901',
  ])('bound to 127.0.0.1, accepts %s', (host) => {
    expect(refused(host, loopback)).toBe(false);
  });

  it.each([
    undefined,
    '',
    'evil.example',
    'evil.example:9901',
    'localhost.evil.example',
    '127.0.0.1.nip.io',
    'localhost.',
    'user@localhost',
    'localhost:9901@evil.example',
    'localhost:abc',
    'localhost:123456',
    '127.0.0.2',
    '::1',
    '[::1',
    '[localhost]',
    '[::ffff:127.0.0.1]',
    'localhost evil.example',
    'localhost,evil.example',
    '0.0.0.0',
  ])('bound to 127.0.0.1, refuses %j', (host) => {
    expect(refused(host, loopback)).toBe(true);
  });

  it('bound to [::1] or localhost, accepts every loopback name', () => {
    for (const bind of ['::1', 'localhost']) {
      const allowed = allowedHostnames(bind, []);
      for (const host of ['localhost', '127.0.0.1:80', '[::1]:9901']) expect(refused(host, allowed)).toBe(false);
      expect(refused('evil.example', allowed)).toBe(true);
    }
  });

  it('bound to a non-loopback address, accepts that address only, plus the listed names', () => {
    const allowed = allowedHostnames('10.1.2.3', ['admin.internal', 'GW.Example.com']);
    for (const host of ['10.1.2.3', '10.1.2.3:9901', 'admin.internal:9901', 'gw.example.com']) expect(refused(host, allowed)).toBe(false);
    for (const host of ['localhost', '127.0.0.1', '[::1]', 'evil.example', '10.1.2.4']) expect(refused(host, allowed)).toBe(true);
  });

  it('bound to a host name, accepts that name', () => {
    const allowed = allowedHostnames('gateway.internal', []);
    expect(refused('gateway.internal:9901', allowed)).toBe(false);
    expect(refused('localhost', allowed)).toBe(true);
  });

  it('bound to every interface, accepts loopback names and this machine’s addresses', () => {
    const allowed = allowedHostnames('0.0.0.0', []);
    const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address));
    for (const address of addresses.filter((a) => !a.includes('%'))) {
      expect(refused(address.includes(':') ? `[${address}]:9901` : `${address}:9901`, allowed)).toBe(false);
    }
    expect(refused('localhost:9901', allowed)).toBe(false);
    expect(refused('evil.example', allowed)).toBe(true);
  });

  it('"*" turns the check off', () => {
    expect(refused('evil.example', allowedHostnames('127.0.0.1', ['*']))).toBe(false);
  });
});

describe('a real admin listener', () => {
  it('answers loopback names with and without a port, and refuses a rebound name with 403 JSON', async () => {
    const gw = await start();
    const port = new URL(gw.adminUrl).port;
    for (const host of ['localhost', `localhost:${port}`, '127.0.0.1', `127.0.0.1:${port}`, '[::1]', `[::1]:${port}`]) {
      expect((await getWithHost(`${gw.adminUrl}/routes`, host)).status, host).toBe(200);
    }
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1.evil.example:${port}`]) {
      const res = await getWithHost(`${gw.adminUrl}/routes`, host);
      expect(res.status, host).toBe(403);
      expect(res.body.error.code).toBe('HOST_NOT_ALLOWED');
    }
  });

  it('refuses a rebound name before checking the token, and refuses changes too', async () => {
    const token = 't'.repeat(32);
    const gw = await start({ config: { adminToken: token } });
    const res = await getWithHost(`${gw.adminUrl}/routes`, 'evil.example', { authorization: `Bearer ${token}` });
    expect(res.status).toBe(403);
    expect((await getWithHost(`${gw.adminUrl}/routes`, 'localhost', { authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it('keeps the health probes open to any Host (load balancers send their own)', async () => {
    const gw = await start();
    expect((await getWithHost(`${gw.adminUrl}/healthz`, 'evil.example')).status).toBe(200);
    expect((await getWithHost(`${gw.adminUrl}/readyz`, 'lb-probe.internal')).status).toBe(200);
  });

  it('accepts names listed in adminAllowedHosts', async () => {
    const gw = await start({ config: { adminAllowedHosts: 'admin.internal, gw.example.com' } });
    expect((await getWithHost(`${gw.adminUrl}/routes`, 'admin.internal:443')).status).toBe(200);
    expect((await getWithHost(`${gw.adminUrl}/routes`, 'GW.example.com')).status).toBe(200);
    expect((await getWithHost(`${gw.adminUrl}/routes`, 'evil.example')).status).toBe(403);
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;

  it.skipIf(external === undefined)('bound to a non-loopback address (with a token), answers its own address only', async () => {
    const token = 'n'.repeat(32);
    const gw = await start({ config: { adminHost: external!, adminToken: token } });
    const auth = { authorization: `Bearer ${token}` };
    const port = new URL(gw.adminUrl).port;
    expect((await getWithHost(`${gw.adminUrl}/routes`, `${external}:${port}`, auth)).status).toBe(200);
    expect((await getWithHost(`${gw.adminUrl}/routes`, external!, auth)).status).toBe(200);
    expect((await getWithHost(`${gw.adminUrl}/routes`, `localhost:${port}`, auth)).status).toBe(403);
    expect((await getWithHost(`${gw.adminUrl}/routes`, `evil.example:${port}`, auth)).status).toBe(403);
  });
});
