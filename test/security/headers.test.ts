import { afterEach, describe, expect, it } from 'vitest';
import type { ServeConfigInput } from '../../src/config.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startBackend, startTestGateway, type TestGateway } from '../helpers/servers.js';

/** Header hygiene, sent as raw bytes: hop-by-hop headers, X-Forwarded-*, Expect, upgrades. */
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

async function start(config: Partial<ServeConfigInput> = {}): Promise<TestGateway> {
  gw = await startTestGateway({ config });
  return gw;
}
const port = () => Number(new URL(gw!.proxyUrl).port);
const lastReceived = () => gw!.legacy.received.at(-1)!;

/** Hop-by-hop request headers (RFC 9110 §7.6.1), each sent with a marker value. */
const HOP_BY_HOP = ['keep-alive', 'te', 'trailer', 'proxy-connection', 'proxy-authorization', 'upgrade', 'http2-settings', 'x-named-in-connection', 'x-also-named'];

describe('hop-by-hop headers', () => {
  it('forwards none of them, and keeps end-to-end ones', async () => {
    await start();
    const request =
      'GET /a HTTP/1.1\r\nHost: gw.test\r\n' +
      'Connection: keep-alive, X-Named-In-Connection, x-also-named\r\n' +
      HOP_BY_HOP.filter((h) => h !== 'upgrade').map((h) => `${h}: marker-${h}\r\n`).join('') +
      'Upgrade: foo/1\r\nX-End-To-End: kept\r\n\r\n';
    const res = await rawRequest(port(), request, { firstResponse: true });
    expect(res.status).toBe(200);
    const got = lastReceived();
    const leaked = HOP_BY_HOP.filter((h) => got.headers[h] !== undefined && String(got.headers[h]).includes('marker') || (h === 'upgrade' && got.headers.upgrade !== undefined));
    console.log(`[figures] hop-by-hop: ${HOP_BY_HOP.length} request headers tried, ${leaked.length} forwarded`);
    expect(leaked).toEqual([]);
    expect(got.headers['x-end-to-end']).toBe('kept');
  });

  it('does not forward the client Transfer-Encoding: the body is re-framed', async () => {
    await start();
    const res = await rawRequest(
      port(),
      'POST /a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    expect(res.status).toBe(200);
    const raw = lastReceived().rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    expect(raw.filter((h) => h === 'transfer-encoding' || h === 'content-length')).toHaveLength(1);
  });
});

describe('X-Forwarded-*', () => {
  const spoofed =
    'GET /a HTTP/1.1\r\nHost: gw.test\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n' +
    'X-Forwarded-Host: evil.test\r\nConnection: close\r\n\r\n';

  it('replaces client-sent values when the peer is not trusted', async () => {
    await start({ trustProxy: '10.0.0.0/8, ::2' });
    await rawRequest(port(), spoofed);
    expect(lastReceived().headers).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw.test',
    });
  });

  it('appends to them when the peer is a trusted proxy', async () => {
    await start({ trustProxy: '127.0.0.0/8' });
    await rawRequest(port(), spoofed);
    expect(lastReceived().headers).toMatchObject({
      'x-forwarded-for': '6.6.6.6, 127.0.0.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.test',
    });
  });

  it('sets them from the connection when a trusted proxy sends none, and sends one of each', async () => {
    await start({ trustProxy: '127.0.0.1' });
    await rawRequest(port(), 'GET /a HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n');
    const names = lastReceived().rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase());
    expect(names.filter((n) => n.startsWith('x-forwarded-')).sort()).toEqual(['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
    expect(lastReceived().headers['x-forwarded-for']).toBe('127.0.0.1');
  });
});

describe('Expect and upgrades', () => {
  it('answers Expect: 100-continue, then forwards the body', async () => {
    await start();
    const res = await rawRequest(
      port(),
      'POST /a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nabc',
    );
    expect(res.raw).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    expect(res.status).toBe(200);
    expect(lastReceived().headers.expect).toBeUndefined();
  });

  it('refuses an over-limit body with 413 before sending 100 Continue', async () => {
    await start({ maxBodyBytes: 10 });
    const res = await rawRequest(
      port(),
      'POST /a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n',
    );
    expect(res.raw).not.toMatch(/100 Continue/);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('BODY_TOO_LARGE');
    expect(gw!.legacy.received).toHaveLength(0);
  });

  it.each([
    ['h2c', 'GET /a HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n', ''],
    ['h2c with a body', 'POST /a HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 3\r\n\r\nabc', 'abc'],
    ['h2c with a chunked body', 'POST /a HTTP/1.1\r\nHost: gw.test\r\nconnection: keep-alive,upgrade , HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 'abc'],
    ['TLS', 'GET /a HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade\r\nUpgrade: TLS/1.2\r\n\r\n', ''],
  ])('ignores a %s upgrade: answered over HTTP/1.1, forwarded without Upgrade or HTTP2-Settings', async (_name, request, body) => {
    const bodies: string[] = [];
    const legacy = await startBackend('legacy', (req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        bodies.push(text);
        res.end('plain');
      });
    });
    gw = await startTestGateway({ legacy });
    // A second request pipelined behind it is served too, on the same connection.
    const res = await rawRequest(port(), request + 'GET /b HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(200);
    expect(res.raw.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(res.raw).not.toMatch(/101 Switching/);
    // (Node hands pipelined requests over as they are parsed: /b may reach the backend first.)
    const first = gw.legacy.received.find((r) => r.url === '/a');
    const second = gw.legacy.received.find((r) => r.url === '/b');
    expect(first).toBeDefined();
    expect(first!.headers.upgrade).toBeUndefined();
    expect(first!.headers['http2-settings']).toBeUndefined();
    expect(String(first!.headers.connection ?? '')).not.toMatch(/upgrade|http2-settings/i);
    expect(bodies).toContain(body);
    expect(second).toBeDefined();
  });
});
