/**
 * `npm run bench -- --profile[=gw-1|gw-10k|gw-canary|gw-legacy|gw-shadow] [--large]`: runs one gateway configuration
 * under `node --cpu-prof` (~100-byte body at 50 connections, or with --large the 1 MiB body at 10)
 * and summarises where its CPU time goes (self time per function and per module), into
 * bench/results/profile.md next to the raw .cpuprofile.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIGS, type Context } from './configs.js';
import { runLoad, type LoadGen } from './load.js';
import { ROOT } from './procs.js';
import { writeResult } from './report.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame }[];
  /** Microseconds on the monotonic clock, the one process.hrtime reads in every process. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A time window in microseconds of the monotonic clock. */
interface Window {
  fromUs: number;
  toUs: number;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export interface SelfTime {
  name: string;
  ms: number;
  share: number;
}

export async function runProfile(ctx: Context, key: string, loadgen: LoadGen, quick: boolean, large = false): Promise<number> {
  const config = CONFIGS.find((c) => c.key === key && c.isGateway && c.skipReason === undefined);
  if (config === undefined) throw new Error(`--profile: "${key}" is not a gateway configuration (gw-1, gw-10k, gw-canary, gw-legacy, gw-shadow)`);
  const dir = join(ctx.tmp, 'prof');
  mkdirSync(dir);
  const target = await config.start({ ...ctx, gatewayNodeArgs: [...(ctx.gatewayNodeArgs ?? []), '--cpu-prof', `--cpu-prof-dir=${dir}`] });
  const durationS = quick ? 2 : 10;
  const url = target.url + (large ? config.largePath : config.smallPath);
  const connections = large ? 10 : 50;
  let rps: number;
  let window: Window;
  try {
    await runLoad(loadgen, { url, connections, durationS: quick ? 1 : 3 }, ctx.placement.clientCpu); // warm-up
    const fromUs = nowUs();
    const res = await runLoad(loadgen, { url, connections, durationS }, ctx.placement.clientCpu);
    window = { fromUs, toUs: nowUs() };
    rps = res.rps;
  } finally {
    await target.stop(); // SIGTERM: the gateway exits normally, which is when node writes the profile
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('the gateway wrote no .cpuprofile');
  const raw = join(ROOT, `bench/results/gateway${large ? '-1mb' : ''}.cpuprofile`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  copyFileSync(join(dir, file), raw);

  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  // Only the measured run counts: start-up, warm-up and shutdown would blur the hot path.
  const byFunction = selfTimes(profile, window, (f) => `${f.functionName || '(anonymous)'} ${where(f)}`);
  const byModule = selfTimes(profile, window, (f) => moduleOf(f));
  const idle = byModule.find((r) => r.name === '(idle)');
  const md = [
    `# Gateway CPU profile: ${config.label}, ${large ? '1 MiB' : '~100-byte'} body`,
    '',
    `${new Date().toISOString()}, node ${process.version}, ${loadgen}, ${connections} connections, ${durationS} s, ${Math.round(rps)} req/s ` +
      `(the profiler itself slows the gateway). Samples from the measured run only (after a warm-up). ` +
      `Shares are of busy time; the gateway's CPU was idle ${idle ? idle.ms.toFixed(0) : 0} ms of the run. Raw profile: ${raw}`,
    '',
    '## Top self time by function',
    '',
    table(byFunction.filter((r) => r.name !== '(idle) ').slice(0, 30)),
    '',
    '## Self time by module',
    '',
    table(byModule.filter((r) => r.name !== '(idle)').slice(0, 20)),
    '',
  ].join('\n');
  process.stdout.write(`\n${md}\n`);
  process.stderr.write(`bench: wrote ${writeResult(`profile${large ? '-1mb' : ''}.md`, md)}\n`);
  return 0;
}

/**
 * Self time per group within `window`: each sample's time delta is charged to the function it
 * landed in. Shares are of busy time, i.e. excluding "(idle)".
 */
export function selfTimes(profile: CpuProfile, window: Window, group: (frame: CallFrame) => string): SelfTime[] {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const totals = new Map<string, number>();
  let busy = 0;
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    t += us;
    const frame = frames.get(id);
    if (frame === undefined || t < window.fromUs || t > window.toUs) return;
    const name = group(frame);
    totals.set(name, (totals.get(name) ?? 0) + us);
    if (frame.functionName !== '(idle)') busy += us;
  });
  if (totals.size === 0) throw new Error('no profile samples in the measured window (clock mismatch?)');
  return [...totals]
    .map(([name, us]) => ({ name, ms: us / 1000, share: us / busy }))
    .sort((a, b) => b.ms - a.ms);
}

function where(frame: CallFrame): string {
  if (frame.url === '') return '';
  return `${shorten(frame.url)}:${frame.lineNumber + 1}`;
}

function shorten(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const root = url.indexOf(ROOT);
  return root >= 0 ? url.slice(root + ROOT.length) : url.replace(/^file:\/\//, '');
}

/** "pino", "undici", "dist/src/proxy", "node:http", "(garbage collector)", ... */
function moduleOf(frame: CallFrame): string {
  if (frame.url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const short = shorten(frame.url);
  if (short.startsWith('node:')) return short.split('/').slice(0, 2).join('/');
  const nm = frame.url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = short.split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  return short.split('/').slice(0, -1).join('/') || short;
}

function table(rows: SelfTime[]): string {
  return [
    '| self ms | share | function |',
    '|---:|---:|---|',
    ...rows.map((r) => `| ${r.ms.toFixed(0)} | ${(r.share * 100).toFixed(1)}% | ${r.name.replaceAll('|', '\\|')} |`),
  ].join('\n');
}
