/**
 * One load run against one URL, by wrk (when installed: a C generator leaves more of the shared
 * client CPU to the backend) or by autocannon, each in its own process on the client CPU.
 * Both send the same requests: GET with x-user-id rotating over USERS values, so the canary
 * configuration's sticky header costs the load generator nothing extra.
 */
import { benchScript, hasCommand, startChild, stopChild, ROOT } from './procs.js';

export type LoadGen = 'wrk' | 'autocannon';

/** Distinct x-user-id values sent, round-robin. */
export const USERS = 64;

export interface LoadSpec {
  url: string;
  connections: number;
  durationS: number;
  users: number;
}

/** What a load generator reports; load-worker.ts prints this shape. */
export interface RawLoadResult {
  requests: number;
  durationS: number;
  bytes: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** Connection errors, resets and timeouts. */
  errors: number;
}

export interface LoadResult extends RawLoadResult {
  rps: number;
  /** Response bytes per second, in MiB. */
  mibPerS: number;
  /** CPU time (user + system) the proxy's processes spent per request, in µs; unset without a pid. */
  cpuUsPerReq?: number;
  /** µs per request the proxy's main thread waited for a CPU (see mainThreadWaitMs). */
  waitUsPerReq?: number;
}

export function chooseLoadGen(requested: string | undefined): LoadGen {
  if (requested === 'wrk' || requested === 'autocannon') {
    if (requested === 'wrk' && !hasCommand('wrk')) throw new Error('--loadgen wrk: wrk is not installed');
    return requested;
  }
  if (requested !== undefined) throw new Error(`--loadgen must be wrk or autocannon, not "${requested}"`);
  return hasCommand('wrk') ? 'wrk' : 'autocannon';
}

export async function runLoad(gen: LoadGen, spec: Omit<LoadSpec, 'users'>, cpu: number | undefined): Promise<LoadResult> {
  const full: LoadSpec = { ...spec, users: USERS };
  const raw = gen === 'wrk' ? await runWrk(full, cpu) : await runAutocannon(full, cpu);
  return {
    ...raw,
    rps: raw.requests / raw.durationS,
    mibPerS: raw.bytes / raw.durationS / (1024 * 1024),
  };
}

async function runAutocannon(spec: LoadSpec, cpu: number | undefined): Promise<RawLoadResult> {
  const { command, args } = benchScript('load-worker');
  const line = await runToLine('autocannon', command, [...args, JSON.stringify(spec)], cpu, 'LOAD_JSON ', spec.durationS);
  return JSON.parse(line) as RawLoadResult;
}

interface WrkJson {
  requests: number;
  durationUs: number;
  bytes: number;
  p50Us: number;
  p99Us: number;
  status: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
}

async function runWrk(spec: LoadSpec, cpu: number | undefined): Promise<RawLoadResult> {
  const args = [
    '-t1', // one thread: the generator gets one CPU, shared with the backend
    `-c${spec.connections}`,
    `-d${spec.durationS}s`,
    '--timeout',
    '10s',
    '-s',
    `${ROOT}bench/wrk.lua`,
    spec.url,
    '--',
    String(spec.users),
  ];
  const w = JSON.parse(await runToLine('wrk', 'wrk', args, cpu, 'WRK_JSON ', spec.durationS)) as WrkJson;
  return {
    requests: w.requests,
    durationS: w.durationUs / 1e6,
    bytes: w.bytes,
    p50Ms: w.p50Us / 1000,
    p99Ms: w.p99Us / 1000,
    non2xx: w.status,
    errors: w.connect + w.read + w.write + w.timeout,
  };
}

/** Runs a generator to completion (bounded: killed 30 s past its duration) and returns its JSON line. */
async function runToLine(
  name: string,
  command: string,
  args: string[],
  cpu: number | undefined,
  marker: string,
  durationS: number,
): Promise<string> {
  const child = startChild(name, command, args, { cpu, stdout: 'pipe' });
  // 'close' rather than 'exit': it comes after stdout has been read to the end.
  const closed = new Promise<void>((resolve) => child.proc.once('close', () => resolve()));
  const timer = setTimeout(() => void stopChild(child, 1_000), (durationS + 30) * 1000);
  await closed;
  clearTimeout(timer);
  const line = child
    .stdout()
    .split('\n')
    .find((l) => l.startsWith(marker));
  if (line === undefined) {
    throw new Error(`${name} printed no result (exit ${await child.exited})\n${child.stderrTail()}`);
  }
  return line.slice(marker.length);
}
