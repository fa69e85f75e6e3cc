import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startFaultProxy, startRawBackend, type Fault, type FaultProxy } from '../helpers/fault-proxy.js';
import { rawRequest, type RawResponse } from '../helpers/raw-http.js';
import { admin, startBackend, startTestGateway, type StubHandler, type TestGateway } from '../helpers/servers.js';

/**
 * Upstream faults, injected by a TCP proxy between the gateway and a real backend: every one
 * ends in a JSON 502/504, or, once the answer has started, in an aborted client connection,
 * never a truncated body presented as complete, and never a hang.
 */
let gw: TestGateway | undefined;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const BODY = Buffer.alloc(256 * 1024, 'x');
const BODY_SHA = sha(BODY);

function sha(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A legacy backend answering BODY (fixed length or chunked), behind a fault proxy. */
async function faultyLegacy(fault: Fault, handler?: StubHandler): Promise<FaultProxy> {
  const backend = await startBackend(
    'legacy',
    handler ??
      ((req, res) => {
        req.resume();
        const chunked = req.url!.includes('chunked');
        res.writeHead(200, chunked ? { 'content-type': 'text/plain' } : { 'content-length': BODY.length });
        // Several writes, so a truncation can fall in the middle of the body.
        for (let i = 0; i < BODY.length; i += 16 * 1024) res.write(BODY.subarray(i, i + 16 * 1024));
        res.end();
      }),
  );
  const proxy = await startFaultProxy(backend.url, fault);
  cleanups.push(() => proxy.close());
  gw = await startTestGateway({ legacy: backend, config: { legacy: proxy.url } });
  return proxy;
}

const port = () => Number(new URL(gw!.proxyUrl).port);
const get = (path: string) => rawRequest(port(), `GET ${path} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n`);

function expectJsonError(res: RawResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(JSON.parse(res.body).error.code).toBe(code);
}

/** The client must be able to tell: a fixed-length body shorter than declared, or chunked without its last chunk. */
function expectAborted(res: RawResponse): void {
  expect(res.status).toBe(200);
  if (res.headers['content-length'] !== undefined) {
    expect(Buffer.byteLength(res.body, 'latin1')).toBeLessThan(Number(res.headers['content-length']));
  } else {
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body.endsWith('0\r\n\r\n')).toBe(false);
  }
}

describe('upstream faults', () => {
  it('a dead backend gives a JSON 502', async () => {
    const dead = await startBackend('legacy');
    await dead.close();
    gw = await startTestGateway({ legacy: dead });
    expectJsonError(await get('/x'), 502, 'UPSTREAM_CONNECT_ERROR');
  });

  it('a backend that closes at once gives a JSON 502', async () => {
    await faultyLegacy({ kind: 'close' });
    expectJsonError(await get('/x'), 502, 'UPSTREAM_ERROR');
  });

  it('a backend that resets before answering gives a JSON 502', async () => {
    await faultyLegacy({ kind: 'reset' });
    expectJsonError(await get('/x'), 502, 'UPSTREAM_ERROR');
  });

  it('a backend that closes in the middle of the head gives a JSON 502', async () => {
    await faultyLegacy({ kind: 'truncate', afterBytes: 20 });
    expectJsonError(await get('/x'), 502, 'UPSTREAM_ERROR');
  });

  it.each([
    ['reset', 'fixed length'],
    ['reset', 'chunked'],
    ['truncate', 'fixed length'],
    ['truncate', 'chunked'],
  ] as const)('a %s in the middle of a %s body aborts the client connection', async (kind, framing) => {
    await faultyLegacy({ kind, afterBytes: 100 * 1024 });
    const res = await get(framing === 'chunked' ? '/chunked' : '/fixed');
    expectAborted(res);
  });

  it('a slow backend past the route timeout gives a JSON 504', async () => {
    await faultyLegacy({ kind: 'delay', ms: 1_500 });
    await admin(gw!, 'POST', '/routes', { pathPrefix: '/slow', timeoutMs: 300, resilience: { retries: 0 } });
    expectJsonError(await get('/slow'), 504, 'UPSTREAM_TIMEOUT');
  });

  it('a bandwidth-limited backend delivers the whole body, intact', async () => {
    await faultyLegacy({ kind: 'bandwidth', bytesPerSecond: 1024 * 1024 });
    const res = await fetch(gw!.proxyUrl + '/fixed');
    expect(res.status).toBe(200);
    expect(sha(Buffer.from(await res.arrayBuffer()))).toBe(BODY_SHA);
  });

  it.each([
    ['a garbage status line', 'HTTP/1.1 2OO OK\r\ncontent-length: 2\r\n\r\nok'],
    ['no HTTP at all', 'SSH-2.0-OpenSSH_9.6\r\n'],
    ['a bad header name', 'HTTP/1.1 200 OK\r\nbad header: x\r\ncontent-length: 2\r\n\r\nok'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!'],
    ['Content-Length and chunked', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'],
    ['a 100 KiB header', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(100 * 1024)}\r\ncontent-length: 2\r\n\r\nok`],
  ])('a backend sending %s gives a JSON 502', async (_name, answer) => {
    const backend = await startRawBackend((socket) => socket.end(answer));
    cleanups.push(() => backend.close());
    gw = await startTestGateway({ config: { legacy: backend.url } });
    expectJsonError(await get('/x'), 502, 'UPSTREAM_ERROR');
  });

  it('a backend that never reads the request body gives a JSON 504, not a hang', async () => {
    const backend = await startRawBackend(() => undefined, { readRequests: false });
    cleanups.push(() => backend.close());
    gw = await startTestGateway({ config: { legacy: backend.url } });
    await admin(gw, 'POST', '/routes', { pathPrefix: '/upload', timeoutMs: 1_000, maxBodyBytes: 64 * 1024 * 1024 });
    const size = 32 * 1024 * 1024; // far more than the socket buffers hold
    const started = Date.now();
    const res = await new Promise<RawResponse>((resolve) => {
      const head = `POST /upload HTTP/1.1\r\nHost: gw.test\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`;
      void rawRequest(port(), Buffer.concat([Buffer.from(head), Buffer.alloc(size, 'y')]), { firstResponse: true, timeoutMs: 15_000 }).then(resolve);
    });
    expectJsonError(res, 504, 'UPSTREAM_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
