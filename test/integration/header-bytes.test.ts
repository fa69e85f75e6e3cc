import net, { type AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { admin, startBackend, startTestGateway, type StubBackend, type TestGateway } from '../helpers/servers.js';
import { exchangeOnWire } from '../helpers/wire.js';

/**
 * Response header values pass byte for byte: a backend that writes Latin-1 or UTF-8 bytes in a
 * header (Content-Disposition filenames) has them arrive unchanged, whatever the body. A head
 * that cannot be written at all is logged as what it was, never as a 200.
 */
let gw: TestGateway | undefined;
let rawBackend: net.Server | undefined;
afterEach(async () => {
  await gw?.stop();
  await new Promise<void>((r) => (rawBackend ? rawBackend.close(() => r()) : r()));
  gw = undefined;
  rawBackend = undefined;
});

const LATIN1 = Buffer.from('attachment; filename="r\u00e9sum\u00e9.pdf"', 'latin1');
const UTF8 = Buffer.from('attachment; filename="r\u00e9sum\u00e9.pdf"', 'utf8');
const OTHER = Buffer.from([0x80, 0xa0, 0xc3, 0xa9, 0xff, 0x20, 0x09, 0x21]);

/** A backend on a raw socket, writing `head` (a Buffer of header lines) and `body` as given. */
async function rawHttpBackend(head: Buffer, body: string, lengthFirst = false): Promise<StubBackend> {
  const length = Buffer.from(`Content-Length: ${body.length}\r\n`);
  rawBackend = net.createServer((socket) => {
    socket.once('data', () => {
      const lines = lengthFirst ? [length, head] : [head, length];
      socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), ...lines, Buffer.from(`Connection: close\r\n\r\n${body}`)]));
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => rawBackend!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(rawBackend.address() as AddressInfo).port}`;
  return { name: 'legacy', url, received: [], server: undefined as never, close: async () => {} };
}

function line(name: string, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${name}: `), value, Buffer.from('\r\n')]);
}

function headerBytes(response: { headers: [string, string][] }, name: string): Buffer | undefined {
  const value = response.headers.find(([n]) => n.toLowerCase() === name)?.[1];
  return value === undefined ? undefined : Buffer.from(value, 'latin1');
}

describe('response header bytes', () => {
  it.each([
    ['with a body', 'hello', false],
    ['without a body', '', false],
    ['after Content-Length (Node re-encodes Content-Disposition there)', 'hello', true],
    ['after Content-Length, without a body', '', true],
  ])('passes Latin-1, UTF-8 and other high bytes unchanged, %s', async (_name, body, lengthFirst) => {
    const lines = [line('Content-Disposition', LATIN1), line('X-Utf8', UTF8), line('Content-Disposition', UTF8), line('X-Other', OTHER)];
    const legacy = await rawHttpBackend(Buffer.concat(lines), body, lengthFirst);
    gw = await startTestGateway({ legacy });
    const port = Number(new URL(gw.proxyUrl).port);
    const { responses } = await exchangeOnWire(port, { head: Buffer.from('GET /file HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n'), methods: ['GET'] });
    expect(responses).toHaveLength(1);
    expect(responses[0]!.status).toBe(200);
    const dispositions = responses[0]!.headers.filter(([n]) => n === 'content-disposition').map(([, v]) => Buffer.from(v, 'latin1'));
    expect(dispositions).toEqual([LATIN1, UTF8]);
    expect(headerBytes(responses[0]!, 'x-utf8')).toEqual(UTF8);
    expect(headerBytes(responses[0]!, 'content-length')).toEqual(Buffer.from(String(body.length)));
    expect(headerBytes(responses[0]!, 'x-other')).toEqual(OTHER);
    expect(responses[0]!.body.toString()).toBe(body);
  });

  it('passes them on a HEAD answer and on a relayed refused WebSocket handshake', async () => {
    const legacy = await rawHttpBackend(line('Content-Disposition', LATIN1), '', true);
    gw = await startTestGateway({ legacy });
    const port = Number(new URL(gw.proxyUrl).port);
    const head = await exchangeOnWire(port, { head: Buffer.from('HEAD /file HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n'), methods: ['HEAD'] });
    expect(headerBytes(head.responses[0]!, 'content-disposition')).toEqual(LATIN1);
    const ws = await exchangeOnWire(port, {
      head: Buffer.from('GET /ws HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'),
      methods: ['GET'],
    });
    expect(ws.responses[0]!.status).toBe(200);
    expect(headerBytes(ws.responses[0]!, 'content-disposition')).toEqual(LATIN1);
  });

  it('logs an answer whose head could not be written as a 502 with the error, never as a 200', async () => {
    const lines = new PassThrough();
    const logged: { status?: number; err?: unknown; msg?: string }[] = [];
    lines.on('data', (chunk: Buffer) => {
      for (const text of chunk.toString().split('\n')) if (text) logged.push(JSON.parse(text));
    });
    const modern = await startBackend('modern', (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '2' }).end('ok');
    });
    gw = await startTestGateway({ modern, deps: { logger: pino({ level: 'info' }, lines) } });
    await admin(gw, 'POST', '/routes', { pathPrefix: '/x', mode: 'modern' });
    // A response object whose head fails to write (what Node does with a value it refuses).
    const { ServerResponse } = await import('node:http');
    const writeHead = ServerResponse.prototype.writeHead;
    ServerResponse.prototype.writeHead = function (this: InstanceType<typeof ServerResponse>, ...args: unknown[]) {
      // Only the gateway's answer (a flat header array); the stub backend writes an object.
      if (args[0] === 200 && Array.isArray(args[1])) throw Object.assign(new TypeError('Invalid character in header content'), { code: 'ERR_INVALID_CHAR' });
      return (writeHead as (...a: unknown[]) => InstanceType<typeof ServerResponse>).apply(this, args);
    } as typeof writeHead;
    try {
      const port = Number(new URL(gw.proxyUrl).port);
      const { responses } = await exchangeOnWire(port, { head: Buffer.from('GET /x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n'), methods: ['GET'] });
      expect(responses.map((r) => r.status)).toEqual([502]);
    } finally {
      ServerResponse.prototype.writeHead = writeHead;
    }
    await new Promise((r) => setImmediate(r));
    const access = logged.filter((l) => l.msg === 'request' || l.msg === 'request failed');
    expect(access.map((l) => l.status)).toEqual([502]);
    expect(access[0]!.err).toBeDefined();
  });
});
