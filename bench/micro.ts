/**
 * `npm run bench:micro`: the gateway's pure hot-path functions in ns/op, in-process.
 * Plain loops timed with process.hrtime.bigint(): a warm-up first (so the JIT has optimised
 * the code), then several timed batches, median reported. Every result feeds a sink that is
 * printed at the end, so the optimiser cannot drop the work being measured.
 */
import { cpus } from 'node:os';
import { bucketOf } from '../src/routing/canary.js';
import { normaliseTarget } from '../src/routing/path.js';
import { RouteTable } from '../src/routing/route-table.js';
import { DEFAULT_RESILIENCE, DEFAULT_ROUTE_SETTINGS, type Route } from '../src/routing/schema.js';
import { DEFAULT_SHADOW_SETTINGS } from '../src/shadow/settings.js';
import { CircuitBreaker } from '../src/resilience/breaker.js';
import { median, writeResult } from './report.js';

const BATCHES = 7;
const TARGET_BATCH_NS = 100_000_000; // ~100 ms per batch: long enough to swamp timer overhead

let sink = 0;

interface Row {
  name: string;
  nsPerOp: number;
  /** The input, shown as code. */
  input: string;
  note?: string;
}

/**
 * Times `op(i)` for i = 0, 1, 2, ... The iteration count is sized during warm-up so each batch
 * takes ~100 ms whatever the op costs.
 */
function bench(name: string, input: string, op: (i: number) => number, note?: string): Row {
  let iterations = 1_000;
  // Warm-up: grow the batch until it takes ~1/10 of the target, which also gets the op optimised.
  for (;;) {
    const ns = time(op, iterations);
    if (ns > TARGET_BATCH_NS / 10) {
      iterations = Math.max(1, Math.round((iterations * TARGET_BATCH_NS) / ns));
      break;
    }
    iterations *= 4;
  }
  time(op, iterations); // one full-size warm-up batch
  const perOp: number[] = [];
  for (let b = 0; b < BATCHES; b++) perOp.push(time(op, iterations) / iterations);
  const row = { name, nsPerOp: median(perOp), input, note };
  process.stderr.write(`micro: ${name}: ${row.nsPerOp.toFixed(1)} ns/op\n`);
  return row;
}

function time(op: (i: number) => number, iterations: number): number {
  const start = process.hrtime.bigint();
  let acc = 0;
  for (let i = 0; i < iterations; i++) acc += op(i);
  const ns = Number(process.hrtime.bigint() - start);
  sink += acc;
  return ns;
}

function routes(count: number): Route[] {
  const at = '2024-01-01T00:00:00.000Z';
  return Array.from({ length: count }, (_, i) => ({
    id: `svc-${i}`,
    pathPrefix: `/svc/${i}/api`,
    mode: 'modern' as const,
    canaryPercent: 0,
    stickyKey: 'cookie',
    timeoutMs: 30_000,
    maxBodyBytes: null,
    resilience: DEFAULT_RESILIENCE,
    legacyBackend: 'legacy',
    modernBackend: 'modern',
    shadow: DEFAULT_SHADOW_SETTINGS,
    stage: 'modern' as const,
    retireAfterMs: DEFAULT_ROUTE_SETTINGS.retireAfterMs,
    rollout: null,
    version: 1,
    createdAt: at,
    updatedAt: at,
  }));
}

function main(): void {
  const rows: Row[] = [];

  for (const count of [1, 1_000, 10_000, 100_000, 1_000_000]) {
    const start = process.hrtime.bigint();
    const table = new RouteTable(routes(count));
    const buildMs = Number(process.hrtime.bigint() - start) / 1e6;
    // The deepest route, requested below its prefix: the lookup walks 3 segment boundaries.
    const hit = `/svc/${count - 1}/api/items/1`;
    const miss = `/nowhere/${count}/items/1`;
    const n = `${count.toLocaleString('en')} route${count === 1 ? '' : 's'}`;
    rows.push(
      bench(`route lookup, ${n}, hit`, hit, () => (table.match(hit) === undefined ? 0 : 1), `table built in ${buildMs.toFixed(1)} ms`),
    );
    rows.push(bench(`route lookup, ${n}, miss`, miss, () => (table.match(miss) === undefined ? 0 : 1)));
  }

  const keys = Array.from({ length: 1024 }, (_, i) => `user-${i * 7919}`);
  rows.push(bench('canary bucket (bucketOf)', `${keys[0]} … ${keys[1023]}`, (i) => bucketOf(keys[i & 1023]!), '1,024 distinct keys'));

  const canonical = '/svc/9999/api/items/1?page=2';
  const dirty = '/svc//9999/./api/%7eitems/../items/%E2%82%AC1;v=2?page=2';
  rows.push(bench('normaliseTarget, canonical path', canonical, () => (normaliseTarget(canonical).ok ? 1 : 0)));
  rows.push(bench('normaliseTarget, dirty path', dirty, () => (normaliseTarget(dirty).ok ? 1 : 0)));

  // The breaker's bookkeeping per modern call: admit, then record the outcome.
  const closed = new CircuitBreaker({}, { now: () => 0 });
  rows.push(bench('circuit breaker: admit + record success (closed)', 'defaults', () => (closed.tryAcquire() ? (closed.onSuccess(1), 1) : 0)));
  let t = 0;
  const open = new CircuitBreaker({ windowSize: 1, minimumCalls: 1, openMs: 1e15 }, { now: () => t });
  open.tryAcquire();
  open.onFailure(1);
  rows.push(bench('circuit breaker: refuse (open)', 'open', () => (open.tryAcquire() ? 1 : (t++, 0))));

  const header = [
    `# strangler-gateway micro-benchmarks`,
    '',
    `- date: ${new Date().toISOString()}`,
    `- node: ${process.version}; CPU: ${cpus()[0]?.model ?? 'unknown'}; cores: ${cpus().length}; not pinned`,
    `- method: warm-up, then ${BATCHES} batches of ~100 ms each, median ns/op`,
    '',
    '| benchmark | ns/op | ops/s | input | note |',
    '|---|---:|---:|---|---|',
  ];
  const body = rows.map((r) => {
    const ns = Number.isNaN(r.nsPerOp) ? '—' : r.nsPerOp.toFixed(1);
    const ops = Number.isNaN(r.nsPerOp) ? '—' : Math.round(1e9 / r.nsPerOp).toLocaleString('en');
    return `| ${r.name} | ${ns} | ${ops} | ${r.input ? `\`${r.input}\`` : ''} | ${r.note ?? ''} |`;
  });
  const md = [...header, ...body, ''].join('\n');
  process.stdout.write(`${md}\n`);
  process.stderr.write(`micro: wrote ${writeResult('micro.md', md)} (sink ${sink})\n`);
}

main();
