import { LATENCY_BUCKETS, bucketOf } from '../observe/traffic-window.js';
import type { Difference } from './compare.js';
import { generalise } from './json-path.js';
import { SKIP_REASONS, type SkipReason } from './sampling.js';

/** A sample keeps this many differing paths, the newest samples this many per route. */
export const SAMPLE_DIFFERENCES = 20;
export const KEPT_SAMPLES = 100;
/** Distinct differing paths counted per route; past it, new paths are not counted (the top ones are known by then). */
export const COUNTED_PATHS = 500;

/** One mismatch as a team reads it: never a query value, a secret header or a redacted field. */
export interface ShadowSample {
  at: string;
  method: string;
  /** The path, with the query string's values left out (`/orders/7?page=`). */
  path: string;
  legacyStatus: number;
  modernStatus: number;
  differences: Difference[];
}

/** Everything counted for one route, as stored: a delta from one gateway, or the totals of all. */
export interface ShadowCounts {
  /** When the first comparison in these counts happened; null for none. */
  since: string | null;
  compared: number;
  matched: number;
  mismatched: number;
  errors: number;
  skipped: Record<SkipReason, number>;
  /** Latency bucket counts (observe/traffic-window.ts buckets) of modern's and legacy's answers to copied requests. */
  latency: { modern: number[]; legacy: number[] };
  /** Differing paths (generalised: `$.items[*].price`) and how often each differed. */
  paths: Record<string, number>;
  /** Learnt noise fields. */
  noise: string[];
  /** Newest first, at most KEPT_SAMPLES. */
  samples: ShadowSample[];
}

export function emptyCounts(): ShadowCounts {
  return {
    since: null,
    compared: 0,
    matched: 0,
    mismatched: 0,
    errors: 0,
    skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>,
    latency: { modern: new Array<number>(LATENCY_BUCKETS).fill(0), legacy: new Array<number>(LATENCY_BUCKETS).fill(0) },
    paths: {},
    noise: [],
    samples: [],
  };
}

/** The outcome of one copied request. */
export type Comparison =
  | { result: 'match'; at: string; legacyMs: number; modernMs: number }
  | { result: 'mismatch'; at: string; legacyMs: number; modernMs: number; sample: ShadowSample }
  | { result: 'error'; at: string; legacyMs: number };

/** Adds one comparison to `counts` (pure bookkeeping; the caller owns `counts`). */
export function record(counts: ShadowCounts, comparison: Comparison): void {
  counts.since ??= comparison.at;
  counts.compared++;
  counts.latency.legacy[bucketOf(comparison.legacyMs)]!++;
  if (comparison.result === 'error') {
    counts.errors++;
    return;
  }
  counts.latency.modern[bucketOf(comparison.modernMs)]!++;
  if (comparison.result === 'match') {
    counts.matched++;
    return;
  }
  counts.mismatched++;
  const { sample } = comparison;
  for (const path of new Set(sample.differences.map((d) => generalise(d.path)))) countPath(counts.paths, path, 1);
  counts.samples.unshift({ ...sample, differences: sample.differences.slice(0, SAMPLE_DIFFERENCES) });
  if (counts.samples.length > KEPT_SAMPLES) counts.samples.length = KEPT_SAMPLES;
}

export function recordSkip(counts: ShadowCounts, reason: SkipReason): void {
  counts.skipped[reason]++;
}

/** `into` plus `delta`: what a store does when a gateway flushes (samples newest first, trimmed). */
export function mergeCounts(into: ShadowCounts, delta: ShadowCounts): ShadowCounts {
  const add = (a: number[], b: number[]) => a.map((n, i) => n + (b[i] ?? 0));
  const paths = { ...into.paths };
  for (const [path, n] of Object.entries(delta.paths)) countPath(paths, path, n);
  return {
    since: into.since ?? delta.since,
    compared: into.compared + delta.compared,
    matched: into.matched + delta.matched,
    mismatched: into.mismatched + delta.mismatched,
    errors: into.errors + delta.errors,
    skipped: Object.fromEntries(SKIP_REASONS.map((r) => [r, (into.skipped[r] ?? 0) + delta.skipped[r]])) as Record<SkipReason, number>,
    latency: { modern: add(into.latency.modern, delta.latency.modern), legacy: add(into.latency.legacy, delta.latency.legacy) },
    paths,
    noise: [...new Set([...into.noise, ...delta.noise])],
    samples: [...delta.samples, ...into.samples].slice(0, KEPT_SAMPLES),
  };
}

/** Whether a delta holds anything worth a write. */
export function isEmpty(counts: ShadowCounts): boolean {
  return counts.compared === 0 && counts.noise.length === 0 && SKIP_REASONS.every((r) => counts.skipped[r] === 0);
}

function countPath(paths: Record<string, number>, path: string, n: number): void {
  if (path in paths) paths[path]! += n;
  else if (Object.keys(paths).length < COUNTED_PATHS) paths[path] = n;
}

/** The path a sample shows: the query's names kept, its values dropped (`/orders/7?page=&q=`). */
export function samplePath(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return target;
  const names = target
    .slice(q + 1)
    .split('&')
    .filter(Boolean)
    .map((pair) => `${pair.split('=')[0]}=`);
  return `${target.slice(0, q)}?${names.join('&')}`;
}
