import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServeConfigInput } from '../../src/config.js';
import { parseResponse, rawRequest } from '../helpers/raw-http.js';
import { admin, startBackend, startTestGateway, type StubBackend, type TestGateway } from '../helpers/servers.js';

/** Size limits and client timeouts: each answered in JSON, before any backend sees the request. */
let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

async function start(config: Partial<ServeConfigInput> = {}, legacy?: StubBackend): Promise<TestGateway> {
  gw = await startTestGateway({ config, ...(legacy ? { legacy } : {}) });
  return gw;
}
const port = () => Number(new URL(gw!.proxyUrl).port);

function expectJsonError(res: { status: number; body: string }, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(JSON.parse(res.body).error.code).toBe(code);
}

function chunked(size: number, chunk = 4096): string {
  let body = '';
  for (let sent = 0; sent < size; sent += chunk) {
    const n = Math.min(chunk, size - sent);
    body += `${n.toString(16)}\r\n${'z'.repeat(n)}\r\n`;
  }
  return body + '0\r\n\r\n';
}

/**
 * Sends `head`, then `size` bytes of body (chunked when asked) as fast as the socket takes them,
 * reading the answer meanwhile, as curl and browsers do; stops sending once the socket fails.
 * With `pauseAfter`, sends that much, waits until a whole answer has arrived, then sends the rest:
 * a client still sending when the gateway has answered.
 */
function sendStreaming(head: string, size: number, isChunked: boolean, pauseAfter?: number): Promise<{ response: ReturnType<typeof parseResponse>; sent: number; writeError: string | undefined }> {
  return new Promise((resolve) => {
    const socket = net.connect(port(), '127.0.0.1');
    const chunks: Buffer[] = [];
    let sent = 0;
    let writeError: string | undefined;
    let ended: 'end' | 'error' | 'timeout' | undefined;
    const block = Buffer.alloc(64 * 1024, 'z');
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ response: parseResponse(Buffer.concat(chunks).toString('latin1'), ended ?? 'timeout'), sent, writeError });
    };
    const timer = setTimeout(finish, 30_000);
    let answered: (() => void) | undefined;
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const so = parseResponse(Buffer.concat(chunks).toString('latin1'));
      if (so.status !== 0 && so.body.length >= Number(so.headers['content-length'])) answered?.();
    });
    socket.on('end', () => {
      ended ??= 'end';
      finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      writeError = err.code;
      ended ??= 'error';
      finish();
    });
    socket.on('connect', async () => {
      socket.write(head);
      while (sent < size && !socket.destroyed && socket.writable) {
        if (pauseAfter !== undefined && sent >= pauseAfter && answered === undefined) {
          await new Promise<void>((r) => (answered = r));
          await new Promise((r) => setTimeout(r, 50)); // what a gateway that closes now would have closed
        }
        const n = Math.min(block.length, size - sent);
        const piece = isChunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), block.subarray(0, n), Buffer.from('\r\n')]) : block.subarray(0, n);
        sent += n;
        if (!socket.write(piece)) await new Promise((r) => socket.once('drain', r).once('close', r));
      }
      if (isChunked && socket.writable) socket.write('0\r\n\r\n');
    });
  });
}

describe('size limits', () => {
  it('answers 431 for a request head over --max-header-bytes', async () => {
    await start({ maxHeaderBytes: 4096 });
    const res = await rawRequest(port(), `GET /a HTTP/1.1\r\nHost: gw.test\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`);
    expectJsonError(res, 431, 'HEADERS_TOO_LARGE');
    const ok = await rawRequest(port(), `GET /a HTTP/1.1\r\nHost: gw.test\r\nX-Big: ${'a'.repeat(3000)}\r\nConnection: close\r\n\r\n`);
    expect(ok.status).toBe(200);
  });

  it('answers 414 for a target over --max-url-bytes', async () => {
    await start({ maxUrlBytes: 1024 });
    const res = await rawRequest(port(), `GET /a/${'b'.repeat(1100)} HTTP/1.1\r\nHost: gw.test\r\n\r\n`);
    expectJsonError(res, 414, 'URI_TOO_LONG');
    expect(gw!.legacy.received).toHaveLength(0);
  });

  it('answers 413 for a declared Content-Length over the route limit, without forwarding', async () => {
    await start();
    await admin(gw!, 'POST', '/routes', { pathPrefix: '/small', maxBodyBytes: 1000 });
    const res = await rawRequest(port(), `POST /small HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 1001\r\n\r\n${'z'.repeat(1001)}`);
    expectJsonError(res, 413, 'BODY_TOO_LARGE');
    expect(res.headers.connection).toBe('close');
    expect(gw!.legacy.received).toHaveLength(0);
  });

  it('counts chunked bodies as they stream: 413 past the limit, and the backend never gets a complete body', async () => {
    const completed: number[] = [];
    const legacy = await startBackend('legacy', (req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        completed.push(bytes);
        res.end('ok');
      });
      req.on('error', () => undefined);
    });
    await start({}, legacy);
    await admin(gw!, 'POST', '/routes', { pathPrefix: '/small', maxBodyBytes: 50_000 });
    const head = 'POST /small HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n';
    const over = await rawRequest(port(), head + chunked(200_000));
    expectJsonError(over, 413, 'BODY_TOO_LARGE');
    const under = await rawRequest(port(), head.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n') + chunked(40_000));
    expect(under.status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    expect(completed).toEqual([40_000]);
  });

  it('sets no body limit by default: the backend decides (a 12 MB upload passes)', async () => {
    const sizes: number[] = [];
    const legacy = await startBackend('legacy', (req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        sizes.push(bytes);
        res.end('ok');
      });
    });
    await start({}, legacy);
    const size = 12 * 1024 * 1024;
    const declared = await sendStreaming(`POST /a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`, size, false);
    expect(declared.response.status).toBe(200);
    const streamed = await sendStreaming('POST /a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n', size, true);
    expect(streamed.response.status).toBe(200);
    expect(sizes).toEqual([size, size]);
  });

  it.each([
    ['a declared Content-Length', false],
    ['a chunked body', true],
  ])('reads what the client still sends after a 413 for %s, so the client gets the answer, not a reset', async (_name, isChunked) => {
    await start();
    await admin(gw!, 'POST', '/routes', { pathPrefix: '/small', maxBodyBytes: 64 * 1024 });
    const size = 2 * 1024 * 1024; // under the linger bound
    const framing = isChunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`;
    const result = await sendStreaming(`POST /small HTTP/1.1\r\nHost: gw.test\r\n${framing}\r\n\r\n`, size, isChunked, 128 * 1024);
    expectJsonError(result.response, 413, 'BODY_TOO_LARGE');
    expect(result.response.headers.connection).toBe('close');
    expect(result.writeError).toBeUndefined();
    expect(result.response.ended).toBe('end');
    expect(result.sent).toBe(size);
  });

  it('closes after a bounded amount of a refused body: a client that keeps sending cannot hold the connection', async () => {
    await start({ maxBodyBytes: 1024 });
    const size = 64 * 1024 * 1024; // far past the linger bound
    const result = await sendStreaming(`PUT /a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: ${size}\r\n\r\n`, size, false);
    expectJsonError(result.response, 413, 'BODY_TOO_LARGE');
    expect(result.response.ended).not.toBe('timeout');
    expect(result.sent).toBeLessThan(size);
  });

  it('applies --max-body-bytes where the route sets no limit', async () => {
    await start({ maxBodyBytes: 100 });
    const res = await rawRequest(port(), 'POST /a HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\r\n' + chunked(1000, 50));
    expectJsonError(res, 413, 'BODY_TOO_LARGE');
  });

  it('closes connections past --max-connections at accept, and serves again once they go', async () => {
    await start({ maxConnections: 5 });
    const held = await Promise.all(
      Array.from({ length: 5 }, () => new Promise<net.Socket>((resolve) => {
        const socket = net.connect(port(), '127.0.0.1', () => resolve(socket));
      })),
    );
    await new Promise((r) => setTimeout(r, 100));
    const extra = await rawRequest(port(), 'GET /a HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n', { timeoutMs: 3_000 });
    expect(extra.status).toBe(0);
    expect(extra.ended).not.toBe('timeout');
    for (const socket of held) socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await rawRequest(port(), 'GET /a HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n')).status).toBe(200);
  });

  it('stores, patches and validates the route limit', async () => {
    await start();
    const created = await admin(gw!, 'POST', '/routes', { pathPrefix: '/x' });
    expect(created.body.maxBodyBytes).toBeNull();
    const patched = await admin(gw!, 'PATCH', '/routes/x', { maxBodyBytes: 2048 });
    expect(patched.body).toMatchObject({ maxBodyBytes: 2048, version: 2 });
    expect((await admin(gw!, 'PATCH', '/routes/x', { maxBodyBytes: -1 })).status).toBe(400);
    expect((await admin(gw!, 'PATCH', '/routes/x', { maxBodyBytes: 1.5 })).status).toBe(400);
    expect((await admin(gw!, 'PATCH', '/routes/x', { maxBodyBytes: null })).body.maxBodyBytes).toBeNull();
  });
});

/** Opens a connection and sends `parts` with `gapMs` between them; resolves with what came back. */
function trickle(parts: string[], gapMs: number, waitMs: number): Promise<{ raw: string; closedAfterMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port(), '127.0.0.1');
    let raw = '';
    let i = 0;
    const timer = setInterval(() => {
      if (i < parts.length && !socket.destroyed) socket.write(parts[i++]!);
    }, gapMs);
    socket.on('data', (c) => (raw += c.toString('latin1')));
    const done = () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ raw, closedAfterMs: Date.now() - started });
    };
    socket.on('close', done);
    socket.on('error', done);
    const giveUp = setTimeout(done, waitMs);
  });
}

describe('client timeouts', () => {
  it('closes a connection whose head is not complete within --headers-timeout-ms, with a JSON 408', async () => {
    await start({ headersTimeoutMs: 1_000, requestTimeoutMs: 5_000 });
    const parts = ['GET /a HTTP/1.1\r\n', ...Array.from({ length: 40 }, (_, i) => `X-${i}: slow\r\n`)];
    const { raw, closedAfterMs } = await trickle(parts, 200, 8_000);
    expectJsonError(parseResponse(raw), 408, 'REQUEST_TIMEOUT');
    expect(closedAfterMs).toBeLessThan(4_000);
    expect(gw!.legacy.received).toHaveLength(0);
  });

  it('closes a request whose body is not complete within --request-timeout-ms', async () => {
    await start({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const parts = ['POST /a HTTP/1.1\r\nHost: gw.test\r\nContent-Length: 100\r\n\r\n', ...Array.from({ length: 40 }, () => 'z')];
    const { raw, closedAfterMs } = await trickle(parts, 200, 10_000);
    expect(parseResponse(raw).status).toBe(408);
    expect(closedAfterMs).toBeLessThan(5_000);
  });

  it('keeps an idle keep-alive connection past the headers timeout (the keep-alive timeout governs it)', async () => {
    await start({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const socket = net.connect(port(), '127.0.0.1');
    const answers: string[] = [];
    socket.on('data', (c) => answers.push(c.toString('latin1')));
    socket.write('GET /one HTTP/1.1\r\nHost: gw.test\r\n\r\n');
    await new Promise((r) => setTimeout(r, 2_500));
    socket.write('GET /two HTTP/1.1\r\nHost: gw.test\r\n\r\n');
    await new Promise((r) => setTimeout(r, 300));
    socket.destroy();
    expect(answers.join('').match(/HTTP\/1\.1 200/g)).toHaveLength(2);
  });
});
