/**
 * Turns the runs into the report: medians, ratios, the targets next to the measured values,
 * and the markdown + JSON files in bench/results/. Targets are reported, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { ConfigKey } from './configs.js';
import { renderScale, type ScalePoint } from './scale.js';
import type { LoadGen, LoadResult } from './load.js';
import type { MemoryResult } from './memory.js';
import { ROOT } from './procs.js';

export type Kind = 'small50' | 'small1' | 'large';

export interface KindPlan {
  kind: Kind;
  connections: number;
  durationS: number;
  body: 'small' | 'large';
}

export interface Measurement {
  runs: LoadResult[];
  /** Median of each metric over the runs, taken separately. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  mibPerS: number;
  /** CPU µs per request (NaN when not measured): unlike req/s, barely moved by what else the machine runs. */
  cpuUsPerReq: number;
  /** (max - min) / median of req/s over the runs: how noisy this number is (NaN with one run). */
  spread: number;
}

export interface ConfigResult {
  key: ConfigKey;
  label: string;
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  results: Partial<Record<Kind, Measurement>>;
  /** Proxy RSS right after start (idle) and at the end of all runs. */
  rssStartMiB?: number;
  rssEndMiB?: number;
  accessLogMiB?: number;
  /** Shadow mode: the copies compared and skipped during each kind's timed runs (the gateway's own counts). */
  copies?: Partial<Record<Kind, CopyCounts>>;
}

export interface CopyCounts {
  compared: number;
  skipped: number;
}

export interface Check {
  target: string;
  measured: string;
  status: 'met' | 'missed' | 'n/a';
  note?: string;
}

export interface Ratio {
  name: string;
  small50?: number;
  small1?: number;
  large?: number;
  /** CPU per request @50c, the second's ÷ the first's: above 1× the first costs less CPU per request. */
  cpu50?: number;
}

export interface Report {
  date: string;
  mode: 'full' | 'quick';
  node: string;
  cpu: string;
  cores: number;
  placement: string;
  loadgen: string;
  plan: { rounds: number; warmupS: number; kinds: KindPlan[] };
  configs: ConfigResult[];
  ratios: Ratio[];
  targets: Check[];
  memory: MemoryResult | { error: string } | undefined;
  rss10kIdleMiB: number | undefined;
  /** The route table at scale (bench/scale.ts). */
  scale: ScalePoint[];
  breaker: string;
  notes: string[];
  failures: string[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summarise(runs: LoadResult[]): Measurement {
  const rps = median(runs.map((r) => r.rps));
  const all = runs.map((r) => r.rps);
  return {
    runs,
    rps,
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    mibPerS: median(runs.map((r) => r.mibPerS)),
    cpuUsPerReq: median(runs.map((r) => r.cpuUsPerReq ?? NaN)),
    spread: rps > 0 && runs.length > 1 ? (Math.max(...all) - Math.min(...all)) / rps : NaN,
  };
}

export function systemInfo(loadgen: LoadGen): { node: string; cpu: string; cores: number; loadgen: string } {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  let version: string;
  if (loadgen === 'wrk') {
    const out = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
    version = (out.stdout || out.stderr).split('\n')[0]?.trim() ?? 'wrk';
  } else {
    const pkg = JSON.parse(readFileSync(`${ROOT}node_modules/autocannon/package.json`, 'utf8')) as { version: string };
    version = `autocannon ${pkg.version}`;
  }
  return { node: process.version, cpu, cores: availableParallelism(), loadgen: `${version} (1 thread, own process)` };
}

type Get = (r: ConfigResult) => number | undefined;
const of = (kind: Kind, metric: 'rps' | 'p99Ms' | 'mibPerS' | 'cpuUsPerReq'): Get => (r) => r.results[kind]?.[metric];

export function computeRatios(byKey: Map<ConfigKey, ConfigResult>): Ratio[] {
  const pairs: [string, ConfigKey, ConfigKey][] = [
    ['gateway ÷ direct', 'gw-1', 'direct'],
    ['gateway ÷ node floor', 'gw-1', 'floor'],
    ['gateway ÷ bare proxy', 'gw-1', 'bare'],
    ['node floor ÷ nginx', 'floor', 'nginx'],
    ['gateway ÷ nginx', 'gw-1', 'nginx'],
    ['10k routes ÷ 1 route', 'gw-10k', 'gw-1'],
    ['canary ÷ plain 1-route', 'gw-canary', 'gw-1'],
    ['shadow ÷ legacy mode', 'gw-shadow', 'gw-legacy'],
    ['legacy twin ÷ legacy mode (A/A)', 'gw-twin', 'gw-legacy'],
  ];
  return pairs.map(([name, a, b]) => {
    const ra = byKey.get(a);
    const rb = byKey.get(b);
    const div = (get: Get) => {
      const x = ra && get(ra);
      const y = rb && get(rb);
      return x !== undefined && y !== undefined && y > 0 ? x / y : undefined;
    };
    const cpu = (r: ConfigResult | undefined) => r?.results.small50?.cpuUsPerReq;
    const [cpuA, cpuB] = [cpu(ra), cpu(rb)];
    const cpu50 = cpuA !== undefined && cpuB !== undefined && cpuA > 0 && !Number.isNaN(cpuA + cpuB) ? cpuB / cpuA : undefined;
    return { name, small50: div(of('small50', 'rps')), small1: div(of('small1', 'rps')), large: div(of('large', 'mibPerS')), cpu50 };
  });
}

/** The issue's targets, each with the measured value and whether it was met (never asserted). */
export function checkTargets(
  byKey: Map<ConfigKey, ConfigResult>,
  ratios: Ratio[],
  memory: Report['memory'],
): Check[] {
  const rss10kIdle = byKey.get('gw-10k')?.rssStartMiB;
  const rss10kEnd = byKey.get('gw-10k')?.rssEndMiB;
  const ratio = (name: string) => ratios.find((r) => r.name === name)?.small50;
  const spreadNote = (...keys: ConfigKey[]) => {
    const spreads = keys
      .map((k) => byKey.get(k)?.results.small50?.spread)
      .filter((s): s is number => s !== undefined && !Number.isNaN(s));
    return spreads.length ? `run-to-run spread ${spreads.map(pct).join(' / ')}` : undefined;
  };
  const atLeast = (target: string, value: number | undefined, min: number, keys: ConfigKey[]): Check => ({
    target,
    measured: value === undefined ? '—' : `${value.toFixed(3)}×`,
    status: value === undefined ? 'n/a' : value >= min ? 'met' : 'missed',
    note: spreadNote(...keys),
  });
  const below = (target: string, mib: number | undefined, max: number): Check => ({
    target,
    measured: mib === undefined ? '—' : `${mib.toFixed(1)} MiB`,
    status: mib === undefined ? 'n/a' : mib < max ? 'met' : 'missed',
  });
  const added = (kind: Kind) => {
    const gw = byKey.get('gw-1')?.results[kind]?.p99Ms;
    const base = byKey.get('direct')?.results[kind]?.p99Ms;
    return gw !== undefined && base !== undefined ? gw - base : undefined;
  };
  const added1 = added('small1');
  const added50 = added('small50');
  const growth = memory && 'growthMiB' in memory ? memory.growthMiB : undefined;
  const rounds = (key: ConfigKey) => byKey.get(key)?.results.small1?.runs.map((r) => r.p99Ms) ?? [];
  return [
    atLeast('gateway ≥ 1.0× node floor, req/s @50c', ratio('gateway ÷ node floor'), 1.0, ['gw-1', 'floor']),
    atLeast('gateway ≥ 0.95× bare proxy, req/s @50c', ratio('gateway ÷ bare proxy'), 0.95, ['gw-1', 'bare']),
    atLeast('gateway ≥ 0.6× nginx, req/s @50c', ratio('gateway ÷ nginx'), 0.6, ['gw-1', 'nginx']),
    atLeast('10k routes within 2% of 1 route (≥ 0.98×), req/s @50c', ratio('10k routes ÷ 1 route'), 0.98, ['gw-10k', 'gw-1']),
    atLeast('canary within 3% of plain (≥ 0.97×), req/s @50c', ratio('canary ÷ plain 1-route'), 0.97, ['gw-canary', 'gw-1']),
    {
      target: 'added p99 over direct < 1 ms (@1c; at 50c p99 is mostly queueing)',
      measured: added1 === undefined ? '—' : `${ms(added1)} @1c (${added50 === undefined ? '—' : ms(added50)} @50c)`,
      status: added1 === undefined ? 'n/a' : added1 < 1 ? 'met' : 'missed',
    },
    shadowTail(rounds('gw-shadow'), rounds('gw-legacy'), rounds('gw-twin')),
    below('RSS < 120 MiB with 10,000 routes, idle after start', rss10kIdle, 120),
    below('RSS < 120 MiB with 10,000 routes, after all load runs', rss10kEnd, 120),
    {
      ...below('RSS growth < 20 MiB over 50 MiB up + 50 MiB down (fresh process, 2 passes)', growth, 20),
      note: memory && 'passes' in memory ? `per pass: ${memory.passes.map((p) => `${p.growthMiB.toFixed(1)} MiB`).join(', ')}` : undefined,
    },
  ];
}

/**
 * Shadow mode's client p99 within the noise of legacy mode, as a test on the rounds: gw-twin is
 * gw-legacy again, so legacy mode has twice the rounds, and if shadow mode cost the tail nothing
 * its rounds would rank among them by chance. Missed when they rank higher than chance puts them
 * (one-sided exact Mann–Whitney, p < 0.05); with 3 rounds against 6 that takes all three above
 * nearly every legacy round, and a single round each can never miss.
 */
export function shadowTail(shadow: readonly number[], legacy: readonly number[], twin: readonly number[]): Check {
  const target = "shadow mode's client p99 within noise of legacy mode (@1c; its rounds against legacy's and the A/A twin's, rank test p ≥ 0.05)";
  const others = [...legacy, ...twin];
  if (shadow.length === 0 || others.length === 0) return { target, measured: '—', status: 'n/a' };
  const p = higherByChance(shadow, others);
  const [s, l, t] = [shadow, legacy, twin].map((rounds) => (rounds.length > 0 ? median([...rounds]) : undefined));
  const measured = `${ms(s!)} vs ${l === undefined ? '—' : ms(l)} and twin ${t === undefined ? '—' : ms(t)} (medians; ${(s! / median(others)).toFixed(3)}× legacy mode's)`;
  return { target, measured, status: p < 0.05 ? 'missed' : 'met', note: `p = ${p.toFixed(3)}` };
}

/** How often `a.length` values drawn at random from a and b together rank at least as high over the rest (Mann–Whitney U), exactly. */
export function higherByChance(a: readonly number[], b: readonly number[]): number {
  const all = [...a, ...b];
  const u = (picked: ReadonlySet<number>) => {
    let sum = 0;
    for (const i of picked) for (let j = 0; j < all.length; j++) if (!picked.has(j)) sum += all[i]! > all[j]! ? 1 : all[i] === all[j] ? 0.5 : 0;
    return sum;
  };
  const observed = u(new Set(a.map((_, i) => i)));
  let atLeast = 0;
  let total = 0;
  const pick = (from: number, picked: number[]) => {
    if (picked.length === a.length) {
      total++;
      if (u(new Set(picked)) >= observed - 1e-9) atLeast++;
      return;
    }
    for (let i = from; i < all.length; i++) pick(i + 1, [...picked, i]);
  };
  pick(0, []);
  return atLeast / total;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (x: number) => `${x >= 10 ? x.toFixed(1) : x.toFixed(3)} ms`;
const num = (x: number | undefined, digits = 0) =>
  x === undefined || Number.isNaN(x) ? '—' : x.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratioCell = (x: number | undefined) => (x === undefined ? '—' : `${x.toFixed(3)}×`);

export function renderMarkdown(report: Report): string {
  const lines: string[] = [];
  const k50 = report.plan.kinds.find((k) => k.kind === 'small50');
  const k1 = report.plan.kinds.find((k) => k.kind === 'small1');
  const kl = report.plan.kinds.find((k) => k.kind === 'large');
  lines.push(`# strangler-gateway bench (${report.mode})`, '');
  lines.push(`- date: ${report.date}`);
  lines.push(`- node: ${report.node}; CPU: ${report.cpu}; cores: ${report.cores}`);
  lines.push(`- placement: ${report.placement}`);
  lines.push(`- load generator: ${report.loadgen}`);
  lines.push(
    `- plan: ${report.plan.rounds} round(s), configurations interleaved (order rotated each round); ` +
      `warm-up ${report.plan.warmupS} s per configuration; median of the rounds reported`,
  );
  lines.push(
    `- runs: ~100 B JSON at ${k50?.connections} conns × ${k50?.durationS} s and ${k1?.connections} conn × ${k1?.durationS} s; ` +
      `1 MiB body at ${kl?.connections} conns × ${kl?.durationS} s`,
  );
  lines.push(`- ${report.breaker}`, '');

  lines.push(
    '| configuration | req/s @50c | p50 @50c | p99 @50c | CPU µs/req @50c | req/s @1c | p50 @1c | p99 @1c | 1 MiB: MiB/s | RSS idle → end (MiB) | spread @50c |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const c of report.configs) {
    if (c.status === 'skipped' || Object.keys(c.results).length === 0) {
      lines.push(`| ${c.label} | ${c.status.toUpperCase()}: ${c.reason ?? ''} | | | | | | | | | |`);
      continue;
    }
    const label = c.status === 'failed' ? `${c.label} (FAILED, see below)` : c.label;
    const s50 = c.results.small50;
    const s1 = c.results.small1;
    const rss = c.rssEndMiB === undefined ? '—' : `${num(c.rssStartMiB, 1)} → ${num(c.rssEndMiB, 1)}`;
    lines.push(
      `| ${label} | ${num(s50?.rps)} | ${s50 ? ms(s50.p50Ms) : '—'} | ${s50 ? ms(s50.p99Ms) : '—'} | ${num(s50?.cpuUsPerReq, 1)} | ` +
        `${num(s1?.rps)} | ${s1 ? ms(s1.p50Ms) : '—'} | ${s1 ? ms(s1.p99Ms) : '—'} | ${num(c.results.large?.mibPerS)} | ${rss} | ` +
        `${s50 && !Number.isNaN(s50.spread) ? pct(s50.spread) : '—'} |`,
    );
  }
  lines.push('');

  lines.push('| ratio | req/s @50c | req/s @1c | 1 MiB MiB/s | CPU per request @50c (inverse) |', '|---|---:|---:|---:|---:|');
  for (const r of report.ratios) lines.push(`| ${r.name} | ${ratioCell(r.small50)} | ${ratioCell(r.small1)} | ${ratioCell(r.large)} | ${ratioCell(r.cpu50)} |`);
  lines.push('');

  lines.push('| target (reported, not asserted) | measured | status | note |', '|---|---|---|---|');
  for (const t of report.targets) lines.push(`| ${t.target} | ${t.measured} | ${t.status} | ${t.note ?? ''} |`);
  lines.push('');

  lines.push('## Memory');
  const m = report.memory;
  if (m === undefined) lines.push('', 'not measured');
  else if ('error' in m) lines.push('', `FAILED: ${m.error}`);
  else {
    lines.push(
      '',
      `Gateway (1 route, fresh process): a ${m.bodyMiB} MiB streamed upload then a ${m.bodyMiB} MiB download, twice. ` +
        'RSS sampled every 20 ms.',
      '',
      '| pass | RSS before | peak during upload | peak during download | after | growth | upload | download |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...m.passes.map(
        (p, i) =>
          `| ${i + 1} | ${num(p.rssBeforeMiB, 1)} MiB | ${num(p.rssPeakUploadMiB, 1)} MiB | ${num(p.rssPeakDownloadMiB, 1)} MiB | ` +
          `${num(p.rssAfterMiB, 1)} MiB | ${num(p.growthMiB, 1)} MiB | ${num(p.uploadMiBPerS)} MiB/s | ${num(p.downloadMiBPerS)} MiB/s |`,
      ),
      '',
      `Growth over both passes: ${num(m.growthMiB, 1)} MiB. Buffering or a leak would add about the body size ` +
        'on every pass; a one-off step in pass 1 with a flat pass 2 is the runtime sizing its heap and allocator.',
    );
  }
  lines.push('', `Gateway RSS with 10,000 routes loaded, idle after start: ${num(report.rss10kIdleMiB, 1)} MiB.`, '');

  if (report.scale.length) lines.push(renderScale(report.scale));
  if (report.notes.length) lines.push('## Notes', '', ...report.notes.map((n) => `- ${n}`), '');
  if (report.failures.length) lines.push('## FAILURES', '', ...report.failures.map((f) => `- ${f}`), '');
  return lines.join('\n');
}

/** Writes via a temp file and a rename, so a reader never sees half a report. */
export function writeResult(name: string, content: string): string {
  const dir = `${ROOT}bench/results`;
  mkdirSync(dir, { recursive: true });
  const path = `${dir}/${name}`;
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
  return path;
}
