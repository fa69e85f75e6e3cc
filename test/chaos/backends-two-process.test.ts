import { afterEach, describe, expect, it } from 'vitest';
import { adminCall, checkStore, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { startBackend, tempDir, type StubBackend } from '../helpers/servers.js';

/**
 * Two `strangler serve` processes on one database: a backend change made through one process's
 * admin API must reach the other's data plane (it polls SQLite's data_version, every 250 ms by
 * default), with every request in between answered. The time it takes is printed as a figure,
 * not asserted; the only bound is a generous timeout.
 */

const POLL_EVERY_MS = 50;
const GIVE_UP_MS = 5_000;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  // Every cleanup runs even when one fails (checkStore asserts); the first failure is reported.
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length > 0) throw failures[0];
});

async function backend(name: string): Promise<StubBackend> {
  const b = await startBackend(name);
  cleanups.push(() => b.close());
  return b;
}

/** Two gateway processes on one fresh database in front of the same default backends. */
async function twoGateways(): Promise<[GatewayProcess, GatewayProcess]> {
  const [legacy, modern] = await Promise.all([backend('legacy'), backend('modern')]);
  const temp = tempDir();
  cleanups.push(temp.cleanup);
  // Cleanups run in reverse: both processes stop, then the database must still be consistent.
  cleanups.push(() => checkStore(temp.db));
  const a = await spawnGateway(temp.db, { legacy, modern });
  cleanups.push(() => stop(a));
  const b = await spawnGateway(temp.db, { legacy, modern });
  cleanups.push(() => stop(b));
  return [a, b];
}

async function stop(g: GatewayProcess): Promise<void> {
  g.run.kill('SIGKILL');
  await g.run.exited;
}

interface Answer {
  status: number;
  upstream: string | null;
  servedBy: string | undefined;
}

async function request(g: GatewayProcess, path: string): Promise<Answer> {
  const res = await fetch(g.proxy + path);
  const text = await res.text();
  let servedBy: string | undefined;
  try {
    servedBy = (JSON.parse(text) as { servedBy?: string }).servedBy;
  } catch {
    servedBy = undefined;
  }
  return { status: res.status, upstream: res.headers.get('x-strangler-upstream'), servedBy };
}

/**
 * Sends a request to `g` every 50 ms until `done` holds for the answer (or 5 s pass); returns
 * every answer seen and the ms from `since` to the first one that satisfied `done`.
 */
async function pollUntil(g: GatewayProcess, path: string, since: number, done: (a: Answer) => boolean): Promise<{ answers: Answer[]; ms: number | undefined }> {
  const answers: Answer[] = [];
  for (;;) {
    const answer = await request(g, path);
    answers.push(answer);
    const ms = performance.now() - since;
    if (done(answer)) return { answers, ms };
    if (ms > GIVE_UP_MS) return { answers, ms: undefined };
    await new Promise((resolve) => setTimeout(resolve, POLL_EVERY_MS));
  }
}

async function ok(g: GatewayProcess, method: string, path: string, body?: unknown): Promise<any> {
  const res = await adminCall(g.admin, method, path, body, { 'x-actor': 'chaos' });
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}

/** A backend that holds requests for `path` until `release()`, then answers them 503; others get a 200 at once. */
async function holdingBackend(name: string, path: string): Promise<{ backend: StubBackend; release: () => void }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const b = await startBackend(name, (req, res) => {
    req.resume();
    const answer = (status: number) => {
      const body = JSON.stringify({ servedBy: name, url: req.url });
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.url !== path) return answer(200);
    void released.then(() => answer(503));
  });
  cleanups.push(() => b.close());
  return { backend: b, release };
}

describe('named backends across two gateway processes on one database', () => {
  it(
    'a backend created on A, with a route moved to it, is used by B\'s data plane',
    async () => {
      const svc = await backend('orders-svc');
      const [a, b] = await twoGateways();
      await ok(a, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern' });
      const before = await pollUntil(b, '/orders/1', performance.now(), (x) => x.upstream === 'modern');
      expect(before.ms, 'B serves the route from the default modern backend first').toBeDefined();

      const start = performance.now();
      await ok(a, 'POST', '/backends', { name: 'orders-svc', url: svc.url });
      await ok(a, 'PATCH', '/routes/orders', { modernBackend: 'orders-svc' });
      const changed = performance.now();
      const seen = await pollUntil(b, '/orders/1', changed, (x) => x.upstream === 'orders-svc');

      expect(seen.ms, `B never used orders-svc; answers: ${JSON.stringify(seen.answers.slice(-3))}`).toBeDefined();
      expect(seen.answers.at(-1)).toEqual({ status: 200, upstream: 'orders-svc', servedBy: 'orders-svc' });
      // Every answer in between came from one backend or the other, never a gap.
      for (const answer of seen.answers) expect(['modern', 'orders-svc']).toContain(answer.upstream);
      expect(seen.answers.every((x) => x.status === 200)).toBe(true);
      console.log(
        `[figures] backend change across processes: created on A and route moved (${Math.round(changed - start)} ms for the two calls), ` +
          `used by B's data plane ${Math.round(seen.ms!)} ms after A answered (${seen.answers.length} polls every ${POLL_EVERY_MS} ms)`,
      );
    },
    60_000,
  );

  it(
    'a URL change made on B is used by A',
    async () => {
      const [first, second] = await Promise.all([backend('svc-1'), backend('svc-2')]);
      const [a, b] = await twoGateways();
      await ok(a, 'POST', '/backends', { name: 'orders-svc', url: first.url });
      await ok(a, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', modernBackend: 'orders-svc' });
      const ready = await pollUntil(a, '/orders/1', performance.now(), (x) => x.servedBy === 'svc-1');
      expect(ready.ms).toBeDefined();
      // B must know the backend before it can change it: wait for it to serve the route too.
      expect((await pollUntil(b, '/orders/1', performance.now(), (x) => x.servedBy === 'svc-1')).ms).toBeDefined();

      const patched = await ok(b, 'PATCH', '/backends/orders-svc', { url: second.url, version: 1 });
      expect(patched).toMatchObject({ version: 2, url: second.url });
      const changed = performance.now();
      const seen = await pollUntil(a, '/orders/1', changed, (x) => x.servedBy === 'svc-2');

      expect(seen.ms, `A never used the new URL; answers: ${JSON.stringify(seen.answers.slice(-3))}`).toBeDefined();
      for (const answer of seen.answers) {
        expect(answer).toMatchObject({ status: 200, upstream: 'orders-svc' });
        expect(['svc-1', 'svc-2']).toContain(answer.servedBy);
      }
      expect((await ok(a, 'GET', '/backends/orders-svc')).url).toBe(second.url);
      console.log(`[figures] backend URL change across processes: made on B, used by A's data plane ${Math.round(seen.ms!)} ms later (${seen.answers.length} polls)`);
    },
    60_000,
  );

  /*
   * A request in flight on a backend that is deleted meanwhile (its route moved to another
   * backend in the same apply) still gets an answer when that backend then fails: the exchange
   * holds the backend of its try rather than looking it up again by name.
   */
  it(
    'a request in flight on a backend another process deletes still gets an answer when that backend then fails',
    async () => {
      const { backend: old, release } = await holdingBackend('old-svc', '/orders/held');
      const [a, b] = await twoGateways();
      await ok(a, 'POST', '/backends', { name: 'old-svc', url: old.url });
      await ok(a, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', mode: 'modern', modernBackend: 'old-svc' });
      expect((await pollUntil(b, '/orders/0', performance.now(), (x) => x.upstream === 'old-svc')).ms, 'B serves the route from old-svc').toBeDefined();
      const client = new AbortController();
      const inFlight = fetch(b.proxy + '/orders/held', { signal: client.signal }).then(
        async (res) => ({ status: res.status, upstream: res.headers.get('x-strangler-upstream'), body: await res.text() }),
        (err: Error) => ({ failed: `${err.message}: ${String(err.cause)}` }),
      );
      while (!old.received.some((r) => r.url === '/orders/held')) await new Promise((resolve) => setTimeout(resolve, 10));

      // One commit on A: the route moves to the default modern backend and old-svc is pruned.
      const file = {
        backends: [
          { name: 'legacy', url: (await ok(a, 'GET', '/backends/legacy')).url, role: 'legacy' },
          { name: 'modern', url: (await ok(a, 'GET', '/backends/modern')).url },
        ],
        routes: [{ id: 'orders', pathPrefix: '/orders', mode: 'modern' }],
        prune: true,
      };
      expect((await ok(a, 'POST', '/apply', file)).plan.backends.changes).toContainEqual({ action: 'delete', name: 'old-svc', version: 1 });
      // B has loaded that commit once a new request goes to the default modern backend.
      expect((await pollUntil(b, '/orders/2', performance.now(), (x) => x.upstream === 'modern')).ms).toBeDefined();

      release();
      // From here a fixed gateway answers at once (a retry, a fallback or the 503); give it 5 s.
      const timer = setTimeout(() => client.abort(), GIVE_UP_MS);
      const answer = await inFlight;
      clearTimeout(timer);
      expect(answer, 'the held request was never answered').toHaveProperty('status');
    },
    60_000,
  );
});
