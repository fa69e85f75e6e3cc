/**
 * The backend every configuration talks to: a minimal node:http server, in its own process,
 * doing as little work per request as possible so the numbers describe the proxy in front.
 * It routes on the path's last segment, so any route prefix the gateway forwards works:
 *
 *   GET  …/1mb                 1 MiB body from a preallocated buffer
 *   GET  …/stream?bytes=N      N bytes streamed in generated 64 KiB chunks, with backpressure
 *   POST …/sink                reads and discards the body, answers {"bytes":N}
 *   anything else              a ~100-byte JSON body
 *
 * Prints "READY <port>" once listening on an ephemeral loopback port; exits when stdin closes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ONE_MB_BODY as ONE_MB, ONE_MB_TYPE, SMALL_BODY as SMALL, SMALL_TYPE } from './bodies.js';
import { exitWithParent } from './procs.js';

const CHUNK = Buffer.alloc(64 * 1024, 0x79);
const SMALL_HEADERS = { 'content-type': SMALL_TYPE, 'content-length': String(SMALL.length) };
const ONE_MB_HEADERS = { 'content-type': ONE_MB_TYPE, 'content-length': String(ONE_MB.length) };

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (req.method === 'POST' && path.endsWith('/sink')) return sink(req, res);
  if (path.endsWith('/1mb')) return void res.writeHead(200, ONE_MB_HEADERS).end(ONE_MB);
  if (path.endsWith('/stream')) return stream(res, Number(new URLSearchParams(url.slice(q + 1)).get('bytes') ?? 0));
  res.writeHead(200, SMALL_HEADERS).end(SMALL);
});
// Proxies keep upstream connections idle for a while between runs (nginx for 60 s); a backend
// that closed them first would turn that race into spurious errors in the next run.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;

function sink(req: http.IncomingMessage, res: http.ServerResponse): void {
  let bytes = 0;
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    const body = JSON.stringify({ bytes });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) }).end(body);
  });
}

/** Writes `total` bytes chunk by chunk, waiting for 'drain', so the backend never buffers it. */
function stream(res: http.ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void res.once('drain', pump);
    }
    res.end();
  };
  res.on('close', () => (left = 0));
  pump();
}

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
exitWithParent(() => server.closeAllConnections());
