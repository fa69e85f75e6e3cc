import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { IN_THREAD_APPLY_BYTES } from '../../src/store/off-process.js';
import { admin, startTestGateway, type TestGateway } from '../helpers/servers.js';

/**
 * The route table at scale, through the front door: a large route file is applied by a child
 * thread, traffic keeps flowing meanwhile, and changes made under load all become visible.
 * Latency figures are printed for the bench's section, never asserted.
 */
const COUNT = Number(process.env.LARGE_ROUTES ?? 100_000);

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

const routeFile = (count: number, mode = 'legacy') => ({
  routes: Array.from({ length: count }, (_, i) => ({ id: `svc-${i}`, pathPrefix: `/svc/${i}/api`, mode })),
});

async function until(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe(`a table of ${COUNT.toLocaleString('en')} routes`, () => {
  it('is applied off the serving thread while requests keep being answered; then changes under load are all live at once', async () => {
    gw = await startTestGateway();
    const body = JSON.stringify(routeFile(COUNT));
    expect(Buffer.byteLength(body)).toBeGreaterThan(IN_THREAD_APPLY_BYTES);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    let stop = false;
    let served = 0;
    const failures: number[] = [];
    const load = (async () => {
      while (!stop) {
        const res = await fetch(`${gw!.proxyUrl}/svc/${served % COUNT}/api/x`);
        await res.arrayBuffer();
        if (res.status !== 200) failures.push(res.status);
        served++;
      }
    })();
    const started = Date.now();
    const res = await fetch(`${gw.adminUrl}/apply`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const result = (await res.json()) as { applied: boolean; truncated: boolean; summary: { routes: { create: number } }; plan: { changes: { action: string }[] } };
    const appliedMs = Date.now() - started;
    expect(res.status).toBe(200);
    // The answer lists the first 10,000 changes and counts them all.
    expect(result.summary.routes.create).toBe(COUNT);
    expect(result.plan.changes.length).toBe(Math.min(COUNT, 10_000));
    expect(result.truncated).toBe(COUNT > 10_000);
    await until(async () => gw!.routes.current.size === COUNT, 'the live table');
    const liveMs = Date.now() - started;
    stop = true;
    await load;
    delay.disable();
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);
    expect(gw.routes.current.match(`/svc/${COUNT - 1}/api/x`)?.id).toBe(`svc-${COUNT - 1}`);
    console.log(
      `[figures] large-table apply: ${COUNT} routes, ${(Buffer.byteLength(body) / 1e6).toFixed(1)} MB, applied in ${appliedMs} ms, live in ${liveMs} ms; ` +
        `${served} requests meanwhile, 0 failed; event-loop delay max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms`,
    );

    // Then changes under load, on the same table: no request fails, and each is live when its PATCH answers.
    stop = false;
    served = 0;
    const loaders = Array.from({ length: 4 }, async (_, w) => {
      while (!stop) {
        const r = await fetch(`${gw!.proxyUrl}/svc/${(served * 7 + w) % COUNT}/api/x`);
        await r.arrayBuffer();
        if (r.status !== 200) failures.push(r.status);
        served++;
      }
    });
    const lags: number[] = [];
    for (let i = 0; i < 20; i++) {
      const id = `svc-${(i * 4_999) % COUNT}`;
      const t0 = performance.now();
      const patched = await admin(gw, 'PATCH', `/routes/${id}`, { mode: 'modern', reason: `change ${i}` });
      expect(patched.status).toBe(200);
      expect(gw.routes.current.get(id)?.mode).toBe('modern');
      lags.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 25));
    }
    stop = true;
    await Promise.all(loaders);
    expect(failures).toEqual([]);
    lags.sort((a, b) => a - b);
    console.log(`[figures] large-table changes: 20 PATCHes under load at ${COUNT} routes, PATCH to live p50 ${lags[10]!.toFixed(1)} ms, max ${lags.at(-1)!.toFixed(1)} ms; ${served} requests, 0 failed`);
  }, 300_000);

  it('a large file that is invalid or not JSON is refused by the apply process with the same 400s, and writes nothing', async () => {
    gw = await startTestGateway();
    const count = 5_000;
    const file = routeFile(count);
    file.routes[4_321]!.mode = 'sideways';
    const body = JSON.stringify(file);
    expect(Buffer.byteLength(body)).toBeGreaterThan(IN_THREAD_APPLY_BYTES);
    const post = (b: string) => fetch(`${gw!.adminUrl}/apply`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
    const invalid = await post(body);
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { code: string; details: { path: string }[] } }).error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: 'routes[4321] (svc-4321).mode' }],
    });
    const broken = await post(body.slice(0, -1));
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: { code: string } }).error.code).toBe('INVALID_JSON');
    expect((await admin(gw, 'GET', '/routes')).body.routes).toEqual([]);
    expect(gw.routes.current.size).toBe(0);
  }, 120_000);

  it('pages GET /routes with a cursor, and the pages add up to the table', async () => {
    gw = await startTestGateway();
    const count = 2_345;
    expect((await fetch(`${gw.adminUrl}/apply`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(routeFile(count)) })).status).toBe(200);
    const first = await admin(gw, 'GET', '/routes');
    expect(first.body.routes).toHaveLength(1_000);
    const seen: string[] = [];
    for (let after: string | null = null; ; ) {
      const page = await admin(gw, 'GET', `/routes?limit=500${after === null ? '' : `&after=${encodeURIComponent(after)}`}`);
      seen.push(...page.body.routes.map((r: { id: string }) => r.id));
      if (page.body.next === null) break;
      after = page.body.next;
    }
    expect(seen).toHaveLength(count);
    expect(new Set(seen).size).toBe(count);
    expect((await admin(gw, 'GET', '/routes?limit=0')).status).toBe(400);
    expect((await admin(gw, 'GET', '/routes?limit=1001')).body.error.code).toBe('VALIDATION_FAILED');
    expect((await admin(gw, 'GET', '/routes?bogus=1')).body.error.code).toBe('VALIDATION_FAILED');
    const status = await admin(gw, 'GET', '/status?limit=10');
    expect(status.body.perRoute).toHaveLength(10);
    expect(status.body.routes.total).toBe(count);
    expect(status.body.next).toEqual(expect.any(String));
  }, 120_000);
});
