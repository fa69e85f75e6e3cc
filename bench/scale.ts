/**
 * "Route table at scale": for each table size, a gateway applies a route file of that many
 * routes (through POST /apply), then a fresh gateway starts on the database (time to ready, RSS),
 * a second process shares it, and the data plane is measured with and without one route change
 * a second: p99 and the slowest request, and how soon each change is live on this process and
 * on the other one. Reported against the targets, never asserted.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { startGateway, type Context, type Target } from './configs.js';
import { rssBytes } from './procs.js';

const MiB = 1024 * 1024;

export interface ScalePoint {
  routes: number;
  /** POST /apply of the whole file: until its answer, and until the gateway's table holds it. */
  applyMs: number;
  applyLiveMs: number;
  startupMs: number;
  rssReadyMiB: number;
  rssEndMiB: number;
  /** Data plane without changes, and with one change a second. */
  quiet: LatencySummary;
  changing: LatencySummary;
  /** Per change: ms from the PATCH being sent until the data plane of this process / the other process uses it. */
  liveHereMs: number[];
  liveThereMs: number[];
  /** The longest the serving event loop was held while each admin operation ran (prom-client's nodejs_eventloop_lag_max_seconds). */
  adminLagMs: { op: string; ms: number }[];
  failures: string[];
}

export interface LatencySummary {
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export const SCALE_TARGETS = {
  liveHereMs: 100,
  liveThereMs: 1_000,
  p99Ratio: 2,
  maxExtraMs: 100,
  adminLagMs: 20,
  startupMs: (routes: number) => (routes <= 100_000 ? 2_000 : 10_000),
  rssMiB: (routes: number) => (routes <= 100_000 ? 250 : 1024),
};

export async function measureScale(ctx: Context, routes: number, loadS: number, log: (line: string) => void): Promise<ScalePoint> {
  const db = `${ctx.tmp}/scale-${routes}.db`;
  const failures: string[] = [];
  const seeder = await startGateway(ctx, `scale-${routes}-seed`, db, 0, 'warn');
  const file = JSON.stringify({ routes: Array.from({ length: routes }, (_, i) => ({ id: `svc-${i}`, pathPrefix: `/svc/${i}/api`, mode: 'legacy' })) });
  let t0 = performance.now();
  const applied = await fetch(`${seeder.adminUrl}/apply`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: file });
  const applyMs = performance.now() - t0;
  if (applied.status !== 200) failures.push(`apply answered ${applied.status}: ${(await applied.text()).slice(0, 200)}`);
  else await applied.arrayBuffer();
  await until(async () => (await readyRoutes(seeder.adminUrl)) === routes, 600_000);
  const applyLiveMs = performance.now() - t0;
  await seeder.stop();
  log(`scale ${routes}: applied in ${ms(applyMs)} (live in ${ms(applyLiveMs)})`);

  t0 = performance.now();
  const here = await startGateway(ctx, `scale-${routes}`, db, routes, 'warn', 120_000);
  const startupMs = performance.now() - t0;
  const rssReadyMiB = (rssBytes(here.pid!) ?? NaN) / MiB;
  const there = await startGateway(ctx, `scale-${routes}-other`, db, routes, 'warn', 120_000);
  log(`scale ${routes}: ready in ${ms(startupMs)}, RSS ${rssReadyMiB.toFixed(0)} MiB`);
  try {
    const target = `/svc/${routes - 1}/api/items/1`;
    await load(here.url, target, 2); // warm-up
    const quiet = await load(here.url, target, loadS);
    const liveHereMs: number[] = [];
    const liveThereMs: number[] = [];
    const changing = await load(here.url, target, loadS, async (stop) => {
      for (let i = 0; !stop(); i++) {
        const started = performance.now();
        const id = Math.floor((i * 7_919) % routes);
        const mode = i % 2 === 0 ? 'modern' : 'legacy';
        const res = await fetch(`${here.adminUrl}/routes/svc-${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode }) });
        if (res.status !== 200) failures.push(`PATCH svc-${id}: ${res.status}`);
        await res.arrayBuffer();
        const [a, b] = await Promise.all([liveAt(here, id, mode, started), liveAt(there, id, mode, started)]);
        liveHereMs.push(a);
        liveThereMs.push(b);
        await new Promise((r) => setTimeout(r, Math.max(0, 1_000 - (performance.now() - started))));
      }
    });
    const adminLagMs = await adminLags(here.adminUrl, file, failures);
    const rssEndMiB = (rssBytes(here.pid!) ?? NaN) / MiB;
    if (quiet.errors + changing.errors > 0) failures.push(`${quiet.errors + changing.errors} data-plane requests failed`);
    return { routes, applyMs, applyLiveMs, startupMs, rssReadyMiB, rssEndMiB, quiet, changing, liveHereMs, liveThereMs, adminLagMs, failures };
  } finally {
    await Promise.all([here.stop(), there.stop()]);
  }
}

/**
 * Each admin operation, with the gateway's own event-loop monitor read before and after it: the
 * longest the serving loop was held while it ran.
 */
async function adminLags(adminUrl: string, file: string, failures: string[]): Promise<{ op: string; ms: number }[]> {
  const call = async (method: string, path: string, body?: string) => {
    const res = await fetch(adminUrl + path, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body });
    if (res.status >= 300) failures.push(`${method} ${path}: ${res.status}`);
    return res.text();
  };
  const lagMax = async () => Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(await call('GET', '/metrics'))?.[1] ?? NaN) * 1_000;
  const ops: [string, () => Promise<unknown>][] = [
    ['PATCH one route', () => call('PATCH', '/routes/svc-1', JSON.stringify({ canaryPercent: 7, mode: 'canary' }))],
    ['GET /routes (a page of 1,000)', () => call('GET', '/routes')],
    ['GET /routes/:id/history', () => call('GET', '/routes/svc-1/history')],
    ['GET /status (a page of 1,000)', () => call('GET', '/status')],
    ['GET /metrics', () => call('GET', '/metrics')],
    [
      'export (every page of /routes, 1,000 a page)',
      async () => {
        for (let after: string | null = null; ; ) {
          const page = JSON.parse(await call('GET', `/routes${after === null ? '' : `?after=${encodeURIComponent(after)}`}`)) as { next: string | null };
          if (page.next === null) return;
          after = page.next;
        }
      },
    ],
    ['POST /apply of the whole file again (no changes)', () => call('POST', '/apply', file)],
  ];
  const lags: { op: string; ms: number }[] = [];
  for (const [op, run] of ops) {
    await lagMax(); // resets the monitor
    await run();
    lags.push({ op, ms: await lagMax() });
  }
  return lags;
}

/** Polls a gateway's data plane until route `svc-<id>` answers from `mode`'s side; ms since `since`. */
async function liveAt(gateway: Target, id: number, mode: string, since: number): Promise<number> {
  for (;;) {
    const res = await fetch(`${gateway.url}/svc/${id}/api/items/1`);
    await res.arrayBuffer();
    if (res.headers.get('x-strangler-backend') === mode) return performance.now() - since;
    if (performance.now() - since > 10_000) return Infinity;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** 8 keep-alive connections for `seconds`, every latency kept; `alongside` runs meanwhile and sees when to stop. */
async function load(url: string, path: string, seconds: number, alongside?: (stop: () => boolean) => Promise<void>): Promise<LatencySummary> {
  const pool = new Pool(url, { connections: 8 });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1_000;
  const stop = () => performance.now() >= end;
  const worker = async () => {
    while (!stop()) {
      const t = performance.now();
      try {
        const res = await pool.request({ path, method: 'GET' });
        await res.body.arrayBuffer();
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all([...Array.from({ length: 8 }, worker), alongside?.(stop)]);
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { requests: latencies.length, errors, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: latencies.at(-1) ?? NaN };
}

async function readyRoutes(adminUrl: string): Promise<number | undefined> {
  const res = await fetch(`${adminUrl}/readyz`).catch(() => undefined);
  if (res?.status !== 200) return undefined;
  return ((await res.json()) as { routes: number }).routes;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ms = (v: number) => `${Math.round(v)} ms`;

/** The "Route table at scale" section of the report. */
export function renderScale(points: readonly ScalePoint[]): string {
  const t = SCALE_TARGETS;
  const max = (values: number[]) => (values.length === 0 ? NaN : Math.max(...values));
  const status = (ok: boolean) => (ok ? 'met' : 'missed');
  const lines = [
    '## Route table at scale',
    '',
    'A gateway applies a route file of N routes through `POST /apply`; a fresh gateway then starts on the database and a second one shares it. ' +
      'Data plane: 8 keep-alive connections to the last route, without changes and with one `PATCH` a second (each change polled on both processes until live). Log level warn.',
    '',
    '| routes | apply (answer / live) | start-up to ready | RSS ready → end | p99 quiet → changing | slowest quiet → changing | change live here (max) | on the other process (max) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of points) {
    lines.push(
      `| ${p.routes.toLocaleString('en')} | ${ms(p.applyMs)} / ${ms(p.applyLiveMs)} | ${ms(p.startupMs)} | ${p.rssReadyMiB.toFixed(0)} → ${p.rssEndMiB.toFixed(0)} MiB | ` +
        `${p.quiet.p99Ms.toFixed(2)} → ${p.changing.p99Ms.toFixed(2)} ms | ${p.quiet.maxMs.toFixed(1)} → ${p.changing.maxMs.toFixed(1)} ms | ${ms(max(p.liveHereMs))} | ${ms(max(p.liveThereMs))} |`,
    );
  }
  lines.push('', '| target (reported, not asserted) | routes | measured | status |', '|---|---:|---|---|');
  for (const p of points) {
    const n = p.routes.toLocaleString('en');
    const here = max(p.liveHereMs);
    const there = max(p.liveThereMs);
    const ratio = p.changing.p99Ms / p.quiet.p99Ms;
    const extra = p.changing.maxMs - p.quiet.maxMs;
    lines.push(
      `| change live on this process < ${t.liveHereMs} ms | ${n} | ${ms(here)} | ${status(here < t.liveHereMs)} |`,
      `| change live on a second process < ${t.liveThereMs} ms | ${n} | ${ms(there)} | ${status(there < t.liveThereMs)} |`,
      `| p99 with a change a second ≤ ${t.p99Ratio}× without | ${n} | ${ratio.toFixed(2)}× | ${status(ratio <= t.p99Ratio)} |`,
      `| slowest request with changes ≤ slowest without + ${t.maxExtraMs} ms | ${n} | ${extra >= 0 ? '+' : ''}${extra.toFixed(1)} ms | ${status(extra <= t.maxExtraMs)} |`,
      `| start-up to ready < ${t.startupMs(p.routes)} ms | ${n} | ${ms(p.startupMs)} | ${status(p.startupMs < t.startupMs(p.routes))} |`,
      `| RSS < ${t.rssMiB(p.routes)} MiB | ${n} | ${Math.max(p.rssReadyMiB, p.rssEndMiB).toFixed(0)} MiB | ${status(Math.max(p.rssReadyMiB, p.rssEndMiB) < t.rssMiB(p.routes))} |`,
    );
  }
  if (points.some((p) => p.adminLagMs.length > 0)) {
    lines.push(
      '',
      `Longest hold of the serving event loop during each admin operation (the gateway's own monitor, 10 ms resolution; target ≤ ${t.adminLagMs} ms at 100,000 routes):`,
      '',
      `| operation | ${points.map((p) => `${p.routes.toLocaleString('en')} routes`).join(' | ')} |`,
      `|---|${points.map(() => '---:').join('|')}|`,
    );
    for (const [i, { op }] of points[0]!.adminLagMs.entries()) lines.push(`| ${op} | ${points.map((p) => `${p.adminLagMs[i]?.ms.toFixed(1) ?? '—'} ms`).join(' | ')} |`);
  }
  for (const p of points) for (const f of p.failures) lines.push('', `- ${p.routes.toLocaleString('en')} routes: ${f}`);
  return lines.join('\n') + '\n';
}
