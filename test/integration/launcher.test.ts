/**
 * bin/strangler, the command npm links and the container image runs: on one CPU, `serve` starts
 * Node with --single-threaded, in the same process (exec), so signals and the pid stay the
 * gateway's. It runs the built code (dist/), which `npm ci` builds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { spawnGateway } from '../helpers/gateway-process.js';
import { startBackend, tempDir, type StubBackend } from '../helpers/servers.js';

const hasTaskset = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;

let legacy: StubBackend;
let modern: StubBackend;
const temps: ReturnType<typeof tempDir>[] = [];
beforeAll(async () => {
  [legacy, modern] = await Promise.all([startBackend('legacy'), startBackend('modern')]);
});
afterAll(async () => {
  await Promise.all([legacy.close(), modern.close()]);
  for (const t of temps) t.cleanup();
});

/** Starts `serve` through `program` (ending in bin/strangler); resolves with its listening line, its Node arguments, and its exit on SIGTERM. */
async function serveThrough(program: string[], env: NodeJS.ProcessEnv = {}) {
  const temp = tempDir();
  temps.push(temp);
  const { run, listening } = await spawnGateway(temp.db, { legacy, modern }, [], env, program);
  const argv = readFileSync(`/proc/${run.child.pid}/cmdline`, 'utf8').split('\0');
  return { line: listening, argv, stopped: stop(run) };
}

async function stop(run: CliRun): Promise<{ code: number | null; stdout: string[] }> {
  run.kill('SIGTERM');
  return { code: await run.exited, stdout: run.stdout };
}

describe.skipIf(process.platform !== 'linux')('bin/strangler', () => {
  it.skipIf(!hasTaskset)('on one CPU runs serve with --single-threaded, in the process it was started as', async () => {
    const { line, argv, stopped } = await serveThrough(['taskset', '-c', '0', 'bin/strangler']);
    expect(line.singleThreaded).toBe(true);
    // The spawned pid is node itself: taskset and sh exec'd into it.
    expect(argv[0]).toMatch(/node$/);
    expect(argv).toContain('--single-threaded');
    const { code, stdout } = await stopped;
    expect(code).toBe(0); // SIGTERM reached the gateway, which drained and exited 0
    expect(stdout.some((l) => l.includes('"gateway stopped"'))).toBe(true);
  });

  it.skipIf(!hasTaskset)('STRANGLER_SINGLE_THREADED=off keeps the default on one CPU', async () => {
    const { line, argv, stopped } = await serveThrough(['taskset', '-c', '0', 'bin/strangler'], { STRANGLER_SINGLE_THREADED: 'off' });
    expect(line.singleThreaded).toBe(false);
    expect(argv).not.toContain('--single-threaded');
    expect((await stopped).code).toBe(0);
  });

  it.skipIf(availableParallelism() < 2)('on several CPUs keeps the default, unless STRANGLER_SINGLE_THREADED=on', async () => {
    const auto = await serveThrough(['bin/strangler']);
    expect(auto.line.singleThreaded).toBe(false);
    expect((await auto.stopped).code).toBe(0);
    const on = await serveThrough(['bin/strangler'], { STRANGLER_SINGLE_THREADED: 'on' });
    expect(on.line.singleThreaded).toBe(true);
    expect((await on.stopped).code).toBe(0);
  });

  it('honours the earlier name STRANGLER_SINGLE_THREADED_GC when STRANGLER_SINGLE_THREADED is not set', async () => {
    const old = await serveThrough(['bin/strangler'], { STRANGLER_SINGLE_THREADED_GC: 'on' });
    expect(old.line.singleThreaded).toBe(true);
    expect((await old.stopped).code).toBe(0);
  });

  it('refuses an unknown STRANGLER_SINGLE_THREADED (or earlier name) for serve with exit 2; other commands ignore it', async () => {
    const bad = runCli(['serve'], { STRANGLER_SINGLE_THREADED: 'yes' }, { program: ['bin/strangler'] });
    expect(await bad.exited).toBe(2);
    expect(bad.stderr.join('\n')).toContain('STRANGLER_SINGLE_THREADED must be auto, on or off (got "yes")');
    const old = runCli(['serve'], { STRANGLER_SINGLE_THREADED_GC: 'yes' }, { program: ['bin/strangler'] });
    expect(await old.exited).toBe(2);
    expect(old.stderr.join('\n')).toContain('STRANGLER_SINGLE_THREADED_GC must be auto, on or off (got "yes")');
    const version = runCli(['--version'], { STRANGLER_SINGLE_THREADED: 'yes' }, { program: ['bin/strangler'] });
    expect(await version.exited).toBe(0);
    expect(version.stdout.join('')).toMatch(/^\d+\.\d+\.\d+/);
  });

  // A CPU quota is what a container limit (docker --cpus=1, a Kubernetes limit of 1) sets. Making
  // a cgroup takes root and a writable cpu controller; elsewhere this case is skipped.
  const quota = quotaCgroup();
  it.skipIf(quota === undefined)('under a CPU quota of half a CPU on two CPUs runs serve with --single-threaded', async () => {
    try {
      const { line, stopped } = await serveThrough(['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec bin/strangler "$@"', quota!.dir]);
      expect(line.singleThreaded).toBe(true);
      expect((await stopped).code).toBe(0);
    } finally {
      quota!.remove();
    }
  });
});

/** A new cgroup limited to half a CPU (v2 cpu.max, else v1 cfs quota), or undefined when this process cannot make one. */
function quotaCgroup(): { dir: string; remove: () => void } | undefined {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return undefined;
  const name = `strangler-test-${process.pid}`;
  const candidates = [
    { root: '/sys/fs/cgroup', limit: (dir: string) => writeFileSync(join(dir, 'cpu.max'), '50000 100000') },
    { root: '/sys/fs/cgroup/cpu', limit: (dir: string) => writeFileSync(join(dir, 'cpu.cfs_quota_us'), '50000') },
  ];
  for (const { root, limit } of candidates) {
    const dir = join(root, name);
    try {
      if (!existsSync(join(root, 'cgroup.procs'))) continue;
      mkdirSync(dir);
      limit(dir);
      return { dir, remove: () => rmdirSync(dir) };
    } catch {
      try {
        rmdirSync(dir);
      } catch {
        // never made
      }
    }
  }
  return undefined;
}
