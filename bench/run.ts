/**
 * `npm run bench [-- --quick] [--scale[=100000,1000000] | --no-scale] [--only=KEY,KEY] [--loadgen wrk|autocannon] [--profile[=gw-1|gw-10k|gw-canary|gw-legacy|gw-shadow] [--large]] [--gateway-node-args="NODE OPTIONS"] [--shadow-modern=nginx|node]`
 *
 * Starts one backend and every configuration's proxy (each in its own process), then measures
 * them one at a time: a warm-up each, then rounds in which every configuration runs every load
 * kind once. Interleaving the rounds (rather than finishing one configuration before the next)
 * spreads the machine's slow spells over all configurations instead of penalising whichever ran
 * during one, which matters when the targets are 2-3 % differences on a shared machine.
 *
 * Exits non-zero when a configuration fails to start or answers with errors in bulk; speed
 * targets are reported only. --quick is the CI smoke check: ~1 s per run, one round.
 */
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BREAKER_STATUS } from './breaker.js';
import { CONFIGS, GATEWAY_1_ROUTE, gatewayCommand, type BenchConfig, type Context, type Target } from './configs.js';
import { chooseLoadGen, runLoad, type LoadGen, type LoadResult } from './load.js';
import { measureLargeBodies } from './memory.js';
import { measureScale, renderScale, type ScalePoint } from './scale.js';
import { choosePlacement, installCleanup, mainThreadWaitMs, probe, startBackend, stopAll, treeCpuMs, treeRssBytes } from './procs.js';
import { defaultShadowModern, type ShadowModern } from './modern.js';
import { nginxMissing } from './nginx.js';
import { notes } from './notes.js';
import { runProfile } from './profile.js';
import {
  checkTargets,
  computeRatios,
  renderMarkdown,
  summarise,
  systemInfo,
  writeResult,
  type ConfigResult,
  type CopyCounts,
  type Kind,
  type KindPlan,
  type Report,
} from './report.js';

const MiB = 1024 * 1024;

interface Args {
  quick: boolean;
  /** Only the route table at scale. */
  scaleOnly: boolean;
  /** Only these configurations (`--only=gw-1,gw-canary`: an A/B of two; gw-shadow brings gw-legacy and gw-twin), in CONFIGS order; undefined for all. */
  only: string[] | undefined;
  /** Everything but the route table at scale (`--no-scale`: it takes about ten minutes of its own). */
  noScale: boolean;
  /** The table sizes it measures (`--scale=100000`); undefined for the defaults. */
  scaleSizes: number[] | undefined;
  loadgen: string | undefined;
  profile: string | undefined;
  /** Profile with the 1 MiB body instead of the ~100-byte one. */
  large: boolean;
  /** Node options for every gateway process (`--gateway-node-args="--single-threaded-gc"`), to A/B a runtime setting. */
  gatewayNodeArgs: string[] | undefined;
  /** What stands in for shadow mode's modern (modern.ts): nginx when installed; `node` to A/B it. */
  shadowModern: ShadowModern;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, scaleOnly: false, noScale: false, only: undefined, scaleSizes: undefined, loadgen: undefined, profile: undefined, large: false, gatewayNodeArgs: undefined, shadowModern: defaultShadowModern() };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    if (flag === '--quick') args.quick = true;
    else if (flag === '--scale') {
      args.scaleOnly = true;
      args.scaleSizes = inline?.split(',').map(Number);
      if (args.scaleSizes?.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--scale takes route counts, e.g. --scale=100000 (got "${inline}")`);
    }
    else if (flag === '--no-scale') args.noScale = true;
    else if (flag === '--only') {
      args.only = (inline ?? argv[++i] ?? '').split(',').filter(Boolean);
      const unknown = args.only.filter((k) => !CONFIGS.some((c) => c.key === k));
      if (args.only.length === 0 || unknown.length > 0) throw new Error(`--only takes configuration keys (${CONFIGS.map((c) => c.key).join(', ')}); got "${inline ?? ''}"`);
    }
    else if (flag === '--loadgen') args.loadgen = inline ?? argv[++i];
    else if (flag === '--profile') args.profile = inline ?? 'gw-1';
    else if (flag === '--large') args.large = true;
    else if (flag === '--gateway-node-args') args.gatewayNodeArgs = (inline ?? argv[++i] ?? '').split(' ').filter(Boolean);
    else if (flag === '--shadow-modern') {
      const modern = inline ?? argv[++i];
      if (modern !== 'nginx' && modern !== 'node') throw new Error(`--shadow-modern takes nginx or node (got "${modern ?? ''}")`);
      const missing = modern === 'nginx' ? nginxMissing() : undefined;
      if (missing !== undefined) throw new Error(`--shadow-modern=nginx: ${missing}`);
      args.shadowModern = modern;
    } else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        'usage: npm run bench [-- --quick] [--scale[=100000,1000000] | --no-scale] [--only=KEY,KEY] [--loadgen wrk|autocannon] [--profile[=gw-1|gw-10k|gw-canary|gw-legacy|gw-shadow] [--large]] [--gateway-node-args="NODE OPTIONS"] [--shadow-modern=nginx|node]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument "${argv[i]}" (try --help)`);
  }
  return { ...args, only: args.only && withShadowBaselines(args.only) };
}

/** Shadow mode is judged against legacy mode and the noise between two legacy gateways: an A/B with shadow brings both. */
function withShadowBaselines(only: string[]): string[] {
  const keys = new Set(only.includes('gw-shadow') ? [...only, 'gw-legacy', 'gw-twin'] : only);
  return CONFIGS.map((c) => c.key).filter((k) => keys.has(k));
}

function planFor(quick: boolean): Report['plan'] {
  // 50 connections: a busy service; 1 connection: pure per-request latency. The 1 MiB body uses
  // 10 connections: enough to saturate a stream, without 50 MiB in flight per run.
  const kinds: KindPlan[] = quick
    ? [
        { kind: 'small50', connections: 50, durationS: 1, body: 'small' },
        { kind: 'small1', connections: 1, durationS: 1, body: 'small' },
        { kind: 'large', connections: 10, durationS: 1, body: 'large' },
      ]
    : [
        { kind: 'small50', connections: 50, durationS: 10, body: 'small' },
        { kind: 'small1', connections: 1, durationS: 10, body: 'small' },
        { kind: 'large', connections: 10, durationS: 5, body: 'large' },
      ];
  return { rounds: quick ? 1 : 3, warmupS: quick ? 0 : 5, kinds };
}

/** More than 1 % of requests (and more than 10) failing, or none at all, is a broken configuration. */
function bulkErrors(r: LoadResult): string | undefined {
  const bad = r.non2xx + r.errors;
  if (r.requests === 0) return 'no request completed';
  if (bad > Math.max(10, r.requests * 0.01)) return `${r.non2xx} non-2xx and ${r.errors} errors in ${r.requests} requests`;
  return undefined;
}

interface Running {
  config: BenchConfig;
  target: Target;
  result: ConfigResult;
  runs: Map<Kind, LoadResult[]>;
}

/** A bad argument: one line and exit 2, as the CLI does, not a stack trace. */
class UsageError extends Error {}

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const placement = choosePlacement();
  const loadgen = chooseLoadGen(args.loadgen);
  const plan = planFor(args.quick);
  const tmp = mkdtempSync(join(tmpdir(), 'strangler-bench-'));
  const cleanup = async () => {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  };
  installCleanup(cleanup);
  try {
    log(`placement: ${placement.description}`);
    log(`load generator: ${loadgen}`);
    const backend = (await startBackend(placement)).url;
    log(`backend: ${backend}`);
    const ctx: Context = { backendUrl: backend, tmp, placement, gatewayNodeArgs: args.gatewayNodeArgs, shadowModern: args.shadowModern };
    if (args.gatewayNodeArgs !== undefined) log(`gateways run as: ${gatewayCommand(args.gatewayNodeArgs).join(' ')} serve`);
    if (args.profile !== undefined) return await runProfile(ctx, args.profile, loadgen, args.quick, args.large);
    if (args.scaleOnly) {
      const failures: string[] = [];
      const md = renderScale(await scaleTest(ctx, args.quick, failures, args.scaleSizes));
      process.stdout.write(`\n${md}\n`);
      log(`wrote ${writeResult(args.scaleSizes !== undefined ? `scale-${args.scaleSizes.join('-')}.md` : args.quick ? 'scale-quick.md' : 'scale.md', md)}`);
      return failures.length ? 1 : 0;
    }
    return await benchmark(ctx, plan, loadgen, args.quick, args.noScale || args.only !== undefined, args.only);
  } finally {
    await cleanup();
  }
}

async function benchmark(ctx: Context, plan: Report['plan'], loadgen: LoadGen, quick: boolean, noScale: boolean, only?: string[]): Promise<number> {
  const failures: string[] = [];
  const results: ConfigResult[] = [];
  const running: Running[] = [];

  // Start everything first: idle proxies cost nothing, and the rounds can then interleave.
  for (const config of CONFIGS.filter((c) => only === undefined || only.includes(c.key))) {
    const result: ConfigResult = { key: config.key, label: config.label, status: 'ok', results: {} };
    results.push(result);
    const skip = config.skipReason?.();
    if (skip !== undefined) {
      Object.assign(result, { status: 'skipped', reason: skip });
      log(`${config.label}: SKIPPED (${skip})`);
      continue;
    }
    try {
      const target = await config.start(ctx);
      await (config.verify ?? defaultVerify(config))(target);
      if (target.pid !== undefined) result.rssStartMiB = (treeRssBytes(target.pid) ?? NaN) / MiB;
      running.push({ config, target, result, runs: new Map() });
      log(`${config.label}: ready at ${target.url}${target.pid ? ` (pid ${target.pid})` : ''}`);
    } catch (err) {
      fail(result, failures, `failed to start: ${(err as Error).message}`);
    }
  }

  const load = async (r: Running, kind: KindPlan, durationS: number, timed = false): Promise<LoadResult | undefined> => {
    const path = kind.body === 'small' ? r.config.smallPath : r.config.largePath;
    try {
      const pid = r.target.pid;
      const copiesBefore = await r.config.copies?.(r.target);
      const cpuBefore = pid === undefined ? undefined : treeCpuMs(pid);
      const waitBefore = pid === undefined ? undefined : mainThreadWaitMs(pid);
      const res = await runLoad(loadgen, { url: r.target.url + path, connections: kind.connections, durationS }, ctx.placement.clientCpu);
      const cpuAfter = pid === undefined ? undefined : treeCpuMs(pid);
      const waitAfter = pid === undefined ? undefined : mainThreadWaitMs(pid);
      if (copiesBefore !== undefined && timed) countCopies(r.result, kind.kind, copiesBefore, await r.config.copies!(r.target));
      if (cpuBefore !== undefined && cpuAfter !== undefined && res.requests > 0) res.cpuUsPerReq = ((cpuAfter - cpuBefore) * 1_000) / res.requests;
      if (waitBefore !== undefined && waitAfter !== undefined && res.requests > 0) res.waitUsPerReq = ((waitAfter - waitBefore) * 1_000) / res.requests;
      const bad = bulkErrors(res);
      if (bad !== undefined) fail(r.result, failures, `${kind.kind}: ${bad}`);
      return res;
    } catch (err) {
      fail(r.result, failures, `${kind.kind}: load generator failed: ${(err as Error).message}`);
      return undefined;
    }
  };

  if (plan.warmupS > 0) {
    for (const r of running) {
      log(`warm-up: ${r.config.label}`);
      // One small-body and one large-body run. Shadow mode's copy path stays cold until its first
      // 1c round (at 50c the saturated core sheds nearly every copy); warming it here too made
      // shadow's 50c rounds 0.73-0.77x legacy's in two runs, unexplained (see the README).
      for (const kind of plan.kinds.filter((k) => k.kind !== 'small1')) {
        await load(r, kind, kind.body === 'small' ? plan.warmupS : 1);
      }
    }
  }

  for (let round = 0; round < plan.rounds; round++) {
    // Rotate the order each round so no configuration always runs first.
    const order = running.map((_, i) => running[(i + round) % running.length]!);
    for (const r of order) {
      for (const kind of plan.kinds) {
        const res = await load(r, kind, kind.durationS, true);
        if (res === undefined) continue;
        r.runs.set(kind.kind, [...(r.runs.get(kind.kind) ?? []), res]);
        log(
          `round ${round + 1}/${plan.rounds} ${r.config.key.padEnd(9)} ${kind.kind.padEnd(7)} ` +
            `${Math.round(res.rps).toString().padStart(6)} req/s  p50 ${res.p50Ms.toFixed(3)} ms  p99 ${res.p99Ms.toFixed(3)} ms` +
            (kind.body === 'large' ? `  ${res.mibPerS.toFixed(0)} MiB/s` : '') +
            (res.non2xx + res.errors ? `  (${res.non2xx} non-2xx, ${res.errors} errors)` : ''),
        );
      }
    }
  }

  for (const r of running) {
    for (const [kind, runs] of r.runs) r.result.results[kind] = summarise(runs);
    if (r.target.pid !== undefined) r.result.rssEndMiB = (treeRssBytes(r.target.pid) ?? NaN) / MiB;
    if (r.target.logFile !== undefined) r.result.accessLogMiB = fileMiB(r.target.logFile);
  }
  // Stop the proxies (the backend stays: the memory test needs it).
  await Promise.all(running.map((r) => r.target.stop()));
  const memory = only === undefined ? await memoryTest(ctx, failures) : undefined;
  const scale = noScale ? [] : await scaleTest(ctx, quick, failures);

  const byKey = new Map(results.map((r) => [r.key, r]));
  const ratios = computeRatios(byKey);
  const info = systemInfo(loadgen);
  const report: Report = {
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    ...info,
    placement: ctx.placement.description,
    plan,
    configs: results,
    ratios,
    targets: checkTargets(byKey, ratios, memory),
    memory,
    rss10kIdleMiB: byKey.get('gw-10k')?.rssStartMiB,
    scale,
    breaker: BREAKER_STATUS,
    notes: notes(results, loadgen, ctx.gatewayNodeArgs, ctx.shadowModern),
    failures,
  };
  const md = renderMarkdown(report);
  process.stdout.write(`\n${md}\n`);
  if (only !== undefined) {
    // A partial run (an A/B): its own file, so the last full results stay in place.
    log(`wrote ${writeResult(`only-${only.join('-')}.md`, md)}`);
  } else if (!quick) {
    log(`wrote ${writeResult('latest.md', md)}`);
    log(`wrote ${writeResult('latest.json', JSON.stringify(report, null, 2) + '\n')}`);
  } else {
    // A smoke run's numbers mean nothing; keep the last full results in place.
    log(`wrote ${writeResult('quick.md', md)}`);
    log(`wrote ${writeResult('quick.json', JSON.stringify(report, null, 2) + '\n')}`);
  }
  if (failures.length) log(`FAILED: ${failures.length} problem(s); see above`);
  return failures.length ? 1 : 0;
}

function defaultVerify(config: BenchConfig) {
  return async (target: Target) => {
    const res = await probe(target.url + config.smallPath, { 'x-user-id': 'user-1' });
    if (res.status !== 200 || !res.body.startsWith('{"id":1')) {
      throw new Error(`GET ${config.smallPath}: status ${res.status}: ${res.body.slice(0, 200)}`);
    }
  };
}

/** The route table at 100,000 and 1,000,000 routes (10,000 in a smoke run). */
async function scaleTest(ctx: Context, quick: boolean, failures: string[], sizes?: number[]): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  for (const routes of sizes ?? (quick ? [10_000] : [100_000, 1_000_000])) {
    try {
      const point = await measureScale(ctx, routes, quick ? 1 : 10, log);
      failures.push(...point.failures.map((f) => `scale ${routes}: ${f}`));
      points.push(point);
    } catch (err) {
      failures.push(`scale ${routes}: ${(err as Error).message}`);
      log(`scale ${routes} FAILED: ${(err as Error).message}`);
    }
  }
  return points;
}

/** The 50 MiB upload/download on a fresh 1-route gateway, so earlier load does not hide growth. */
async function memoryTest(ctx: Context, failures: string[]): Promise<Report['memory']> {
  const sub = join(ctx.tmp, 'memory');
  mkdirSync(sub);
  let target: Target | undefined;
  try {
    target = await GATEWAY_1_ROUTE.start({ ...ctx, tmp: sub });
    const result = await measureLargeBodies(target.url, '/api', target.pid!);
    for (const [i, p] of result.passes.entries()) {
      log(
        `memory pass ${i + 1}: RSS ${p.rssBeforeMiB.toFixed(1)} → ${p.rssAfterMiB.toFixed(1)} MiB ` +
          `(peak ${p.rssPeakUploadMiB.toFixed(1)} up, ${p.rssPeakDownloadMiB.toFixed(1)} down), ${result.bodyMiB} MiB each way`,
      );
    }
    return result;
  } catch (err) {
    const error = (err as Error).message;
    failures.push(`memory test: ${error}`);
    log(`memory test FAILED: ${error}`);
    return { error };
  } finally {
    await target?.stop();
  }
}

/** Adds one run's copies (the difference of the gateway's counts around it) to the configuration's. */
function countCopies(result: ConfigResult, kind: Kind, before: CopyCounts, after: CopyCounts): void {
  const sum = (result.copies ??= {})[kind] ?? { compared: 0, skipped: 0 };
  result.copies[kind] = { compared: sum.compared + after.compared - before.compared, skipped: sum.skipped + after.skipped - before.skipped };
}

function fail(result: ConfigResult, failures: string[], reason: string): void {
  failures.push(`${result.label}: ${reason}`);
  if (result.status === 'ok') Object.assign(result, { status: 'failed', reason });
  log(`${result.label}: FAILED: ${reason}`);
}

function fileMiB(path: string): number | undefined {
  try {
    return statSync(path).size / MiB;
  } catch {
    return undefined;
  }
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    void stopAll().finally(() => process.exit(1));
  },
);
