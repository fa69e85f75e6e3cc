import { createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { admin, startBackend, startTestGateway, type TestGateway } from '../helpers/servers.js';

const MB = 1024 * 1024;
const SIZE = 50 * MB;

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

/** 50 MB of deterministic bytes, produced lazily so the test itself holds none of it. */
function* chunks(total: number): Generator<Buffer> {
  const block = Buffer.alloc(64 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31) & 0xff;
  for (let sent = 0; sent < total; sent += block.length) yield block.subarray(0, Math.min(block.length, total - sent));
}

function expectedHash(total: number): string {
  const hash = createHash('sha256');
  for (const chunk of chunks(total)) hash.update(chunk);
  return hash.digest('hex');
}

/** Counts what a generator has handed out, so a test can see how far ahead a sender got. */
function counted(source: Iterable<Buffer>, counter: { bytes: number }): Generator<Buffer> {
  return (function* () {
    for (const chunk of source) {
      counter.bytes += chunk.length;
      yield chunk;
    }
  })();
}

const STALL_MS = 300;
/** Socket buffers and stream high-water marks on both hops: far below the 50 MB sent. */
const MAX_IN_FLIGHT = 25 * MB;

/**
 * "Not held in memory" is shown by backpressure, not by RSS (which moves with the GC):
 * while the receiving side stalls, the sender cannot get more than a few buffers ahead.
 */
describe('streaming', () => {
  it('passes a 50 MB upload intact, chunked, with backpressure to the client', async () => {
    const sent = { bytes: 0 };
    let aheadDuringStall = -1;
    const backend = await startBackend('modern', (req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.once('data', () => {
        req.pause();
        setTimeout(() => {
          aheadDuringStall = sent.bytes - bytes;
          req.resume();
        }, STALL_MS);
      });
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        hash.update(c);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex') })));
    });
    gw = await startTestGateway({ modern: backend });
    // Over the gateway's 10 MiB default body limit: the route raises its own.
    await admin(gw, 'POST', '/routes', { pathPrefix: '/upload', mode: 'modern', maxBodyBytes: 64 * 1024 * 1024 });
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request(gw!.proxyUrl + '/upload', { method: 'POST' }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      pipeline(Readable.from(counted(chunks(SIZE), sent)), req).catch(reject);
    });
    expect(JSON.parse(answer)).toEqual({ bytes: SIZE, sha256: expectedHash(SIZE) });
    expect(backend.received[0]!.headers['transfer-encoding']).toBe('chunked');
    expect(aheadDuringStall).toBeGreaterThanOrEqual(0);
    expect(aheadDuringStall).toBeLessThan(MAX_IN_FLIGHT);
  });

  it('passes a 50 MB download intact, with backpressure to the backend', async () => {
    const sent = { bytes: 0 };
    const backend = await startBackend('legacy', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
      pipeline(Readable.from(counted(chunks(SIZE), sent)), res).catch(() => {});
    });
    gw = await startTestGateway({ legacy: backend });
    let aheadDuringStall = -1;
    const result = await new Promise<{ bytes: number; sha256: string; length: string | undefined }>((resolve, reject) => {
      http.get(gw!.proxyUrl + '/download', (res) => {
        const hash = createHash('sha256');
        let bytes = 0;
        res.once('data', () => {
          res.pause();
          setTimeout(() => {
            aheadDuringStall = sent.bytes - bytes;
            res.resume();
          }, STALL_MS);
        });
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
        });
        res.on('end', () => resolve({ bytes, sha256: hash.digest('hex'), length: res.headers['content-length'] }));
        res.on('error', reject);
      }).on('error', reject);
    });
    expect(result).toEqual({ bytes: SIZE, sha256: expectedHash(SIZE), length: String(SIZE) });
    expect(aheadDuringStall).toBeGreaterThanOrEqual(0);
    expect(aheadDuringStall).toBeLessThan(MAX_IN_FLIGHT);
  });
});

describe('WebSocket', () => {
  it('upgrades through the gateway to the chosen backend and round-trips messages', async () => {
    const backend = await startBackend('modern', (_req, res) => res.end('not a websocket'));
    const wss = new WebSocketServer({ server: backend.server });
    wss.on('connection', (socket, req) => {
      socket.on('message', (data) => socket.send(`echo from modern ${req.url}: ${String(data)}`));
    });
    gw = await startTestGateway({ modern: backend });
    await admin(gw, 'POST', '/routes', { pathPrefix: '/live', mode: 'modern' });
    const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/live/feed?x=1');
    const upgrade = new Promise<http.IncomingMessage>((resolve) => ws.once('upgrade', resolve));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    expect((await upgrade).headers['x-strangler-backend']).toBe('modern');
    const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
    ws.send('hello');
    expect(await reply).toBe('echo from modern /live/feed?x=1: hello');
    ws.close();
    wss.close();
  });

  it('relays a backend that refuses the handshake', async () => {
    gw = await startTestGateway();
    const ws = new WebSocket(gw.proxyUrl.replace('http', 'ws') + '/no-ws');
    ws.on('error', () => {}); // ws reports the refused handshake as an error too
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (req, res) => {
        resolve(res.statusCode!);
        req.destroy();
      }),
    );
    expect(status).toBe(200); // the stub backend answered a plain 200, relayed as is
  });

  it('answers an h2c upgrade request over HTTP/1.1, as an ordinary request (RFC 9113 lets a server ignore it)', async () => {
    gw = await startTestGateway();
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(gw!.proxyUrl + '/x', { headers: { connection: 'upgrade, http2-settings', upgrade: 'h2c', 'http2-settings': 'AAMAAABkAAQAAP__' } });
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(res.headers.upgrade).toBeUndefined();
    expect(gw.legacy.received).toHaveLength(1);
    expect(gw.legacy.received[0]!.headers.upgrade).toBeUndefined();
  });
});
