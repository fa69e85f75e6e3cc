import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { adminCall, spawnGateway } from '../helpers/gateway-process.js';
import { startBackend, tempDir, type StubBackend } from '../helpers/servers.js';

/**
 * Issue 6 part 7: on SIGTERM/SIGINT readiness turns false, the listener stops accepting,
 * in-flight requests finish (up to --shutdown-grace-ms), pools and the database close, exit 0.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A gateway whose modern backend answers /slow after `delayMs`; resolves once a request reached it. */
async function gatewayWithSlowBackend(delayMs: number, graceMs: number) {
  let arrived!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const slow = await startBackend('modern', (req, res) => {
    arrived();
    req.resume();
    const timer = setTimeout(() => res.end('finished'), delayMs);
    res.on('close', () => clearTimeout(timer));
  });
  const legacy: StubBackend = await startBackend('legacy');
  const temp = tempDir();
  cleanups.push(temp.cleanup, () => legacy.close(), () => slow.close());
  const gateway = await spawnGateway(temp.db, { legacy, modern: slow }, ['--shutdown-grace-ms', String(graceMs)]);
  cleanups.push(async () => {
    gateway.run.kill('SIGKILL');
    await gateway.run.exited;
  });
  expect((await adminCall(gateway.admin, 'POST', '/routes', { pathPrefix: '/slow', mode: 'modern' })).status).toBe(201);
  return { gateway, reached, db: temp.db };
}

/** A GET on its own keep-alive connection; resolves with status, body and Connection header, or the error. */
function get(url: string): Promise<{ status: number; body: string; connection: string | undefined } | Error> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: new http.Agent({ keepAlive: true }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection }));
      res.on('error', resolve);
    });
    req.on('error', resolve);
  });
}

/** Whether a new TCP connection to `url` is refused. */
function refusesConnections(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('graceful shutdown of strangler serve', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s: readiness 503 first, new connections refused, the in-flight request finishes, database closed, exit 0',
    async (signal) => {
      const { gateway, reached, db } = await gatewayWithSlowBackend(1_500, 10_000);
      expect((await adminCall(gateway.admin, 'GET', '/readyz')).status).toBe(200);
      const inFlight = get(`${gateway.proxy}/slow`);
      await reached;

      gateway.run.kill(signal);
      await gateway.run.waitForLog('shutting down: draining in-flight requests');
      const ready = await adminCall(gateway.admin, 'GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.error).toMatchObject({ code: 'NOT_READY', message: expect.stringMatching(/shutting down/) });
      expect(await until(() => refusesConnections(gateway.proxy))).toBe(true);

      const answer = await inFlight;
      expect(answer).toEqual({ status: 200, body: 'finished', connection: 'close' });
      expect(await gateway.run.exited).toBe(0);
      expect(gateway.run.stdout.some((l) => l.includes('gateway stopped'))).toBe(true);
      // SQLite removes the WAL file when the last connection closes cleanly.
      expect(existsSync(`${db}-wal`)).toBe(false);
    },
  );

  it('when the grace period runs out, cuts what is still in flight, logs it, and still exits 0', async () => {
    const { gateway, reached } = await gatewayWithSlowBackend(30_000, 300);
    const inFlight = get(`${gateway.proxy}/slow`);
    await reached;
    const signalledAt = Date.now();
    gateway.run.kill('SIGTERM');
    expect(await inFlight).toBeInstanceOf(Error);
    expect(await gateway.run.exited).toBe(0);
    // Generous bound: the 30 s backend was not waited for.
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    expect(gateway.run.stdout.some((l) => l.includes('shutdown grace period over'))).toBe(true);
  });

  it('a second signal exits at once with 1', async () => {
    const { gateway, reached } = await gatewayWithSlowBackend(30_000, 60_000);
    void get(`${gateway.proxy}/slow`);
    await reached;
    gateway.run.kill('SIGTERM');
    await gateway.run.waitForLog('shutting down: draining in-flight requests');
    gateway.run.kill('SIGINT');
    expect(await gateway.run.exited).toBe(1);
  });
});

