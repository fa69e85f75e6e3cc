import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildGateway, measure, sleep, type ChildGateway } from '../helpers/load.js';
import { admin, startBackend, tempDir, type StubBackend } from '../helpers/servers.js';

/**
 * Slowloris: hundreds of sockets that send a request head a header at a time, reconnecting
 * whenever the gateway closes them (at --headers-timeout-ms). Meanwhile normal traffic must
 * still be served, with its p99 measured. CHAOS=1 runs a longer, larger attack.
 */
const CHAOS = process.env.CHAOS === '1';
const SOCKETS = Number(process.env.SLOWLORIS_SOCKETS ?? 500);
const REQUESTS = CHAOS ? 3_000 : 600;
const HEADERS_TIMEOUT_MS = 5_000;

let legacy: StubBackend;
let modern: StubBackend;
let gateway: ChildGateway;
const temp = tempDir();

beforeAll(async () => {
  legacy = await startBackend('legacy');
  modern = await startBackend('modern');
  gateway = await startChildGateway(legacy.url, modern.url, temp.db, [
    '--headers-timeout-ms',
    String(HEADERS_TIMEOUT_MS),
    '--request-timeout-ms',
    '10000',
  ]);
  await admin(gateway, 'POST', '/routes', { pathPrefix: '/api', mode: 'modern' });
}, 30_000);
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([legacy?.close(), modern?.close()]);
  temp.cleanup();
});

/** Keeps `count` slow sockets open against `port` until stop() is called. */
function attack(port: number, count: number) {
  const open = new Set<net.Socket>();
  let running = true;
  let closedByGateway = 0;
  let opened = 0;
  const openOne = () => {
    if (!running) return;
    opened++;
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /api/x HTTP/1.1\r\nHost: gw.test\r\n'));
    open.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      open.delete(socket);
      if (!running) return;
      closedByGateway++;
      setImmediate(openOne);
    });
  };
  for (let i = 0; i < count; i++) openOne();
  const drip = setInterval(() => {
    for (const socket of open) if (socket.writable) socket.write(`X-Drip-${Math.random().toString(36).slice(2, 6)}: 1\r\n`);
  }, 500);
  return {
    get held() {
      return open.size;
    },
    get closedByGateway() {
      return closedByGateway;
    },
    get opened() {
      return opened;
    },
    stop() {
      running = false;
      clearInterval(drip);
      for (const socket of open) socket.destroy();
    },
  };
}

describe('slowloris', () => {
  it(
    `${SOCKETS} slow sockets do not stop the gateway serving others`,
    async () => {
      const url = gateway.proxyUrl + '/api/health';
      await measure(url, 100); // warm up
      const baseline = await measure(url, REQUESTS);
      const started = Date.now();
      const slow = attack(Number(new URL(gateway.proxyUrl).port), SOCKETS);
      await sleep(1_000);
      const heldSamples: number[] = [];
      const sampler = setInterval(() => heldSamples.push(slow.held), 100);
      const during = await measure(url, REQUESTS);
      clearInterval(sampler);
      // Outlast the headers timeout, so the gateway is seen closing the slow sockets.
      await sleep(Math.max(0, started + 2 * HEADERS_TIMEOUT_MS - Date.now()));
      const closed = slow.closedByGateway;
      slow.stop();
      // Sockets the gateway closes are reopened at once; the average shows how many it held.
      const held = Math.round(heldSamples.reduce((a, b) => a + b, 0) / heldSamples.length);
      console.log(
        `[figures] slowloris: ${SOCKETS} sockets (${held} held on average while measuring, ${closed} closed by the gateway's ` +
          `${HEADERS_TIMEOUT_MS} ms headers timeout and reopened), healthy p99 ${during.p99} ms ` +
          `(baseline ${baseline.p99} ms, p50 ${during.p50} ms, ${during.errors}/${during.count} errors)`,
      );
      expect(during.errors).toBe(0);
      expect(held).toBeGreaterThanOrEqual(SOCKETS * 0.9);
      expect(closed).toBeGreaterThanOrEqual(SOCKETS * 0.9);
      expect(during.p99).toBeLessThan(Math.max(1_000, baseline.p99 * 20));
      expect(modern.received.every((r) => r.url === '/api/health')).toBe(true);
    },
    CHAOS ? 120_000 : 40_000,
  );
});
