import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseResponse } from '../helpers/raw-http.js';
import { startChildGateway, measure, sleep, type ChildGateway } from '../helpers/load.js';
import { admin, startBackend, tempDir, type StubBackend } from '../helpers/servers.js';

/**
 * Overload: every bound answers a fast 503 with Retry-After instead of queueing, memory stays
 * bounded under 2,000 slow clients, and the healthy route's latency recovers once they leave.
 */
const CHAOS = process.env.CHAOS === '1';
const SLOW_CLIENTS = Number(process.env.SLOW_CLIENTS ?? 2_000);
const BIG = Buffer.alloc(16 * 1024 * 1024, 'b'); // more than the kernel's socket buffers hold

let legacy: StubBackend | undefined;
let modern: StubBackend | undefined;
let gateway: ChildGateway | undefined;
const temp = tempDir();

afterEach(async () => {
  await gateway?.stop();
  await Promise.all([legacy?.close(), modern?.close()]);
  gateway = legacy = modern = undefined;
});

/** Legacy holds /slow for `holdMs` and streams 16 MiB for /big; modern answers /api/* at once. */
async function start(flags: string[], holdMs = 2_000): Promise<ChildGateway> {
  legacy = await startBackend('legacy', (req, res) => {
    req.resume();
    if (req.url!.startsWith('/big')) return void res.end(BIG);
    setTimeout(() => res.end('slow'), holdMs);
  });
  modern = await startBackend('modern');
  gateway = await startChildGateway(legacy.url, modern.url, temp.db + Math.random(), flags);
  await admin(gateway, 'POST', '/routes', { pathPrefix: '/api', mode: 'modern' });
  return gateway;
}

/** Opens a client that sends `target` and then reads only the first chunk of the answer. */
function slowClient(port: number, target: string): { socket: net.Socket; head: Promise<string> } {
  const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nHost: gw.test\r\n\r\n`));
  socket.on('error', () => undefined);
  const head = new Promise<string>((resolve) => {
    socket.once('data', (chunk: Buffer) => {
      socket.pause(); // a slow reader: takes the head, never the rest
      resolve(chunk.toString('latin1'));
    });
    socket.once('close', () => resolve(''));
  });
  return { socket, head };
}

describe('overload', () => {
  it('past a backend bulkhead, answers a fast 503 with Retry-After instead of queueing', async () => {
    const gw = await start(['--legacy-max-in-flight', '20'], 3_000);
    const port = Number(new URL(gw.proxyUrl).port);
    const started = performance.now();
    const clients = Array.from({ length: 100 }, () => slowClient(port, '/slow'));
    const timed = await Promise.all(clients.map(async (c) => ({ head: await c.head, ms: performance.now() - started })));
    const busy = timed.filter((t) => parseResponse(t.head).status === 503);
    const served = timed.filter((t) => parseResponse(t.head).status === 200);
    const busyP99 = busy.map((t) => t.ms).sort((a, b) => a - b)[Math.floor(busy.length * 0.99)] ?? 0;
    console.log(`[figures] overload bulkhead: 100 requests on a bulkhead of 20: ${served.length} served, ${busy.length} fast 503 (slowest ${Math.round(busyP99)} ms vs 3000 ms backend)`);
    for (const c of clients) c.socket.destroy();
    expect(served).toHaveLength(20);
    expect(busy).toHaveLength(80);
    for (const t of busy) {
      const res = parseResponse(t.head);
      expect(res.headers['retry-after']).toBe('1');
      expect(JSON.parse(res.body).error.code).toBe('BACKEND_BUSY');
    }
    expect(busyP99).toBeLessThan(2_000); // answered long before any slow request finished
  }, 30_000);

  it(
    `${SLOW_CLIENTS} slow clients: memory stays bounded, healthy latency recovers once they leave`,
    async () => {
      const gw = await start([]);
      const port = Number(new URL(gw.proxyUrl).port);
      const healthy = gw.proxyUrl + '/api/health';
      await measure(healthy, 200);
      const baseline = await measure(healthy, CHAOS ? 2_000 : 500);
      const rssBefore = gw.rssMiB();

      // Slow readers of 16 MiB answers: the first 256 hold legacy's bulkhead, the rest get 503s.
      const clients: ReturnType<typeof slowClient>[] = [];
      for (let i = 0; i < SLOW_CLIENTS; i++) {
        clients.push(slowClient(port, '/big'));
        if (i % 200 === 199) await sleep(20); // let the accept queue drain
      }
      const heads = await Promise.all(clients.map((c) => c.head));
      const statuses = heads.map((h) => parseResponse(h).status);
      const served = statuses.filter((s) => s === 200).length;
      const busy = heads.filter((h) => parseResponse(h).status === 503 && /retry-after: 1/i.test(h)).length;
      await sleep(500);
      const during = await measure(healthy, CHAOS ? 1_000 : 300);
      const rssPeak = gw.rssMiB();

      for (const c of clients) c.socket.destroy();
      const left = performance.now();
      let recovered: number | undefined;
      let after = during;
      while (performance.now() - left < 20_000) {
        after = await measure(healthy, 200);
        if (after.errors === 0 && after.p99 <= Math.max(baseline.p99 * 3, 25)) {
          recovered = performance.now() - left;
          break;
        }
      }
      console.log(
        `[figures] overload: ${SLOW_CLIENTS} slow clients (${served} streaming, ${busy} fast 503 + Retry-After), ` +
          `gateway RSS ${rssBefore.toFixed(0)} → ${rssPeak.toFixed(0)} MiB, healthy p99 ${baseline.p99} ms before, ` +
          `${during.p99} ms during (${during.errors} errors), recovered to ${after.p99} ms ` +
          `${recovered === undefined ? 'NOT within 20 s' : `${Math.round(recovered)} ms after they left`}`,
      );
      expect(served + busy).toBe(SLOW_CLIENTS);
      expect(served).toBeLessThanOrEqual(256);
      expect(rssPeak - rssBefore).toBeLessThan(400); // bounded: not 2,000 × 16 MiB
      expect(during.errors).toBe(0);
      expect(recovered).toBeLessThan(10_000);
    },
    CHAOS ? 180_000 : 60_000,
  );
});
