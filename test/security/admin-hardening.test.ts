import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { admin, startTestGateway, type TestGateway } from '../helpers/servers.js';

/** Issue 6 part 5: what the admin API refuses, and how. */

const gateways: TestGateway[] = [];
const runs: CliRun[] = [];
afterEach(async () => {
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
  for (const run of runs.splice(0)) {
    run.kill('SIGKILL');
    await run.exited;
  }
});

async function start(config: Parameters<typeof startTestGateway>[0] = {}): Promise<TestGateway> {
  const gateway = await startTestGateway(config);
  gateways.push(gateway);
  return gateway;
}

/** A raw request: any method, headers exactly as given, any body. */
function send(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  body?: string | Buffer,
): Promise<{ status: number; contentType: string | undefined; body: any }> {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: pathname, method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, contentType: res.headers['content-type'], body: text === '' ? undefined : JSON.parse(text) }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

function expectError(res: { status: number; contentType: string | undefined; body: any }, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  expect(res.contentType).toMatch(/^application\/json\b/);
  expect(typeof res.body.error.message).toBe('string');
}

const ORDERS = JSON.stringify({ pathPrefix: '/orders' });

describe('non-JSON bodies are 415 UNSUPPORTED_MEDIA_TYPE and change nothing', () => {
  it.each([
    ['text/plain', ORDERS],
    ['text/plain; charset=utf-8', ORDERS],
    ['application/x-www-form-urlencoded', 'pathPrefix=%2Forders'],
    ['multipart/form-data; boundary=x', '--x\r\ncontent-disposition: form-data; name="pathPrefix"\r\n\r\n/orders\r\n--x--\r\n'],
    ['application/xml', '<route pathPrefix="/orders"/>'],
    ['text/html', ORDERS],
    ['application/octet-stream', ORDERS],
    ['application/jsonx', ORDERS],
    ['application/x-json', ORDERS],
    ['', ORDERS],
  ])('content-type %j', async (contentType, body) => {
    const gw = await start();
    const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(body) };
    if (contentType !== '') headers['content-type'] = contentType;
    for (const [method, path] of [
      ['POST', '/routes'],
      ['PATCH', '/routes/orders'],
    ]) {
      expectError(await send(gw.adminUrl + path, method!, headers, body), 415, 'UNSUPPORTED_MEDIA_TYPE');
    }
    expect((await admin(gw, 'GET', '/routes')).body.routes).toEqual([]);
  });

  it('a body without any content-type is 415 too', async () => {
    const gw = await start();
    expectError(await send(gw.adminUrl + '/routes', 'POST', { 'content-length': ORDERS.length }, ORDERS), 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('application/json with a charset is accepted', async () => {
    const gw = await start();
    const res = await send(gw.adminUrl + '/routes', 'POST', { 'content-type': 'application/json; charset=utf-8', 'content-length': ORDERS.length }, ORDERS);
    expect(res.status).toBe(201);
  });
});

describe('strict schemas: unknown fields are 400 VALIDATION_FAILED naming each one', () => {
  it.each<[string, string, Record<string, unknown>, string[]]>([
    ['POST', '/routes', { pathPrefix: '/x', colour: 'red' }, ['colour']],
    ['POST', '/routes', { pathPrefix: '/x', modee: 'modern', isAdmin: true }, ['modee', 'isAdmin']],
    ['POST', '/routes', { pathPrefix: '/x', resilience: { retries: 1, retry: 2 } }, ['retry']],
    ['POST', '/routes', { pathPrefix: '/x', resilience: { breaker: { openMs: 1000, open: 1 } } }, ['open']],
    ['PATCH', '/routes/orders', { canaryPercent: 5, percent: 5 }, ['percent']],
    ['PATCH', '/routes/orders', { version: 1, createdAt: '2020-01-01T00:00:00Z' }, ['createdAt']],
    ['POST', '/routes/orders/flip', { to: 'modern', force: true }, ['force']],
    ['POST', '/routes/orders/rollback', { toVersion: 1, dryRun: true }, ['dryRun']],
    ['DELETE', '/routes/orders', { cascade: true }, ['cascade']],
  ])('%s %s %j', async (method, path, body, names) => {
    const gw = await start();
    expect((await admin(gw, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders' })).status).toBe(201);
    const res = await admin(gw, method, path, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
    for (const name of names) expect(res.body.error.message).toContain(name);
    expect((await admin(gw, 'GET', '/routes/orders')).body.version).toBe(1);
  });
});

describe('body size limit', () => {
  it('refuses a body over 64 KiB with 413, by its Content-Length and when chunked', async () => {
    const gw = await start();
    const big = JSON.stringify({ pathPrefix: '/orders', reason: 'x'.repeat(70 * 1024) });
    expectError(await send(gw.adminUrl + '/routes', 'POST', { 'content-type': 'application/json', 'content-length': big.length }, big), 413, 'BODY_TOO_LARGE');
    expectError(await send(gw.adminUrl + '/routes', 'POST', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, big), 413, 'BODY_TOO_LARGE');
    expect((await admin(gw, 'GET', '/routes')).body.routes).toEqual([]);
  });
});

describe('bearer token', () => {
  const token = 'correct-horse-battery-staple-0123456789';

  it.each([
    ['no header', undefined],
    ['the token without a scheme', token],
    ['Basic scheme', `Basic ${token}`],
    ['a wrong token of the same length', `Bearer ${'x'.repeat(token.length)}`],
    ['a prefix of the token', `Bearer ${token.slice(0, -1)}`],
    ['the token plus a character', `Bearer ${token}x`],
    ['an empty token', 'Bearer '],
    ['a very long token', `Bearer ${'y'.repeat(8000)}`],
  ])('refuses %s with 401 and changes nothing', async (_what, authorization) => {
    const gw = await start({ config: { adminToken: token } });
    const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': ORDERS.length };
    if (authorization !== undefined) headers.authorization = authorization;
    expectError(await send(gw.adminUrl + '/routes', 'POST', headers, ORDERS), 401, 'UNAUTHORIZED');
    expect((await admin(gw, 'GET', '/routes', undefined, { authorization: `Bearer ${token}` })).body.routes).toEqual([]);
  });

  it('accepts the exact token', async () => {
    const gw = await start({ config: { adminToken: token } });
    expect((await admin(gw, 'POST', '/routes', { pathPrefix: '/orders' }, { authorization: `Bearer ${token}` })).status).toBe(201);
  });
});

describe('start-up refuses a non-loopback admin address without a token', () => {
  const backends = ['--legacy', 'http://127.0.0.1:1', '--modern', 'http://127.0.0.1:2', '--port', '0', '--admin-port', '0'];

  it.each(['0.0.0.0', '::', '192.0.2.10', 'admin.example.com'])('--admin-host %s: exit 2 and one clear line', async (host) => {
    const run = runCli(['serve', ...backends, '--admin-host', host]);
    runs.push(run);
    expect(await run.exited).toBe(2);
    expect(run.stderr).toEqual([expect.stringMatching(/^strangler: --admin-host .*non-loopback admin host needs STRANGLER_ADMIN_TOKEN/)]);
  });

  it('a bad --admin-allowed-hosts entry is a clear start-up error', async () => {
    const run = runCli(['serve', ...backends, '--admin-allowed-hosts', 'ok.example,bad/host']);
    runs.push(run);
    expect(await run.exited).toBe(2);
    expect(run.stderr[0]).toMatch(/^strangler: --admin-allowed-hosts .*host names or IP addresses/);
  });
});
