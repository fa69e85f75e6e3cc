/**
 * Child processes for the bench: spawning (optionally pinned to a CPU), waiting for them to be
 * ready, reading their memory, and killing every one of them whatever way the bench ends.
 */
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  readonly exited: Promise<number | string>;
  /** The last few KB of stderr, for error messages. */
  stderrTail(): string;
  /** Everything written to stdout, when stdout is 'pipe'. */
  stdout(): string;
}

const live = new Set<Child>();

/** Where each role runs. The same placement is used for every configuration. */
export interface Placement {
  /** CPU for the proxy under test, or undefined when nothing is pinned. */
  proxyCpu: number | undefined;
  /** CPU shared by the backend and the load generator. */
  clientCpu: number | undefined;
  description: string;
}

/**
 * Proxy on CPU 0, backend + load generator on CPU 1: the proxy gets a core to itself, so what
 * we measure is its cost, not its fight with the load generator for the same core.
 */
export function choosePlacement(): Placement {
  const cpus = availableParallelism();
  const works = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' }).status === 0;
  if (!works || cpus < 2) {
    const why = works ? `only ${cpus} CPU` : 'taskset not available';
    return { proxyCpu: undefined, clientCpu: undefined, description: `not pinned (${why}); all processes share all CPUs` };
  }
  return {
    proxyCpu: 0,
    clientCpu: 1,
    description: 'taskset: proxy under test on CPU 0; backend + load generator on CPU 1; bench driver unpinned (idle while load runs)',
  };
}

export interface StartOptions {
  cpu?: number | undefined;
  /** 'pipe' to collect stdout, 'ignore', or a file descriptor (logs). */
  stdout?: 'pipe' | 'ignore' | number;
  env?: NodeJS.ProcessEnv;
  /** Run at SCHED_IDLE (chrt), so the process only gets CPU that nothing else wants; ignored without chrt. */
  idle?: boolean;
}

/**
 * Spawns `command args` in its own process group (so a group kill also reaches nginx's worker
 * or anything else the child forks). stdin stays an open pipe: our own child scripts exit when
 * it closes, so they do not outlive a bench that was killed hard.
 */
export function startChild(name: string, program: string, programArgs: readonly string[], options: StartOptions = {}): Child {
  const idle = options.idle === true && hasCommand('chrt');
  const [command, args] = idle ? ['chrt', ['--idle', '0', program, ...programArgs]] : [program, programArgs];
  const pinned = options.cpu !== undefined;
  const file = pinned ? 'taskset' : command;
  const argv = pinned ? ['-c', String(options.cpu), command, ...args] : [...args];
  const stdio: StdioOptions = ['pipe', options.stdout ?? 'ignore', 'pipe'];
  const proc = spawn(file, argv, { cwd: ROOT, stdio, detached: true, env: options.env ?? process.env });
  if (proc.pid === undefined) throw new Error(`${name}: could not spawn ${program}`);
  let err = '';
  let out = '';
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4096)));
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stdin?.on('error', () => {}); // the child may exit before we close its stdin
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const child: Child = { name, pid: proc.pid, proc, exited, stderrTail: () => err.trim(), stdout: () => out };
  live.add(child);
  return child;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopChild(child: Child, graceMs = 5_000): Promise<void> {
  if (!live.has(child)) return;
  child.proc.stdin?.end();
  killGroup(child.pid, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child.pid, 'SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
  // nginx's worker, an esbuild service under tsx, ...: anything left in the group goes too.
  killGroup(child.pid, 'SIGKILL');
}

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((c) => stopChild(c)));
}

/**
 * Kills every child on SIGINT/SIGTERM and, as a last resort, synchronously on exit, so no
 * backend or proxy is left listening after the bench, whichever way it ends.
 */
export function installCleanup(onSignal: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\nbench: ${signal}: stopping all child processes\n`);
    void onSignal().finally(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  process.once('exit', () => {
    for (const child of live) killGroup(child.pid, 'SIGKILL');
  });
}

/** A port that was free a moment ago (for programs that cannot report an ephemeral one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Waits for a line starting with `prefix` on the child's stdout; fails if it exits first. */
export async function waitForLine(child: Child, prefix: string, timeoutMs = 20_000): Promise<string> {
  return waitFor(child, timeoutMs, `"${prefix}" on stdout`, async () =>
    child
      .stdout()
      .split('\n')
      .find((l) => l.startsWith(prefix)),
  );
}

/** Polls `check` every 100 ms until it returns a value; fails early when the child exits. */
export async function waitFor<T>(
  child: Child,
  timeoutMs: number,
  what: string,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | string | undefined;
  void child.exited.then((code) => (exited = code));
  let lastError = '';
  for (;;) {
    if (exited !== undefined) {
      throw new Error(`${child.name} exited (${exited}) before ${what}${tail(child)}`);
    }
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`${child.name}: no ${what} after ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}${tail(child)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tail(child: Child): string {
  const err = child.stderrTail();
  return err ? `\n--- ${child.name} stderr ---\n${err}` : '';
}

export interface Probe {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection, with a timeout, body read in full. */
export function probe(url: string, headers: Record<string, string> = {}, timeoutMs = 2_000): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Resident set size of one process in bytes, or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** RSS of a process plus all its descendants (nginx: master + worker). */
export function treeRssBytes(pid: number): number | undefined {
  const own = rssBytes(pid);
  if (own === undefined) return undefined;
  let total = own;
  for (const child of childrenOf(pid)) total += treeRssBytes(child) ?? 0;
  return total;
}

/**
 * CPU time (user + system) of a process and its descendants, in ms, from /proc; undefined when
 * it is gone or not on Linux. Clock ticks are 10 ms (USER_HZ is 100 on Linux).
 */
export function treeCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields 14 and 15 (utime, stime); the command name (field 2) may contain spaces, so split after ")".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let total = (Number(fields[11]) + Number(fields[12])) * 10;
  for (const child of childrenOf(pid)) total += treeCpuMs(child) ?? 0;
  return total;
}

/**
 * How long the process's main thread (Node's serving loop; its thread id is the pid) has been
 * runnable but waiting for a CPU (schedstat's second field), in ms; undefined without /proc.
 * Unlike latency it counts only what this machine's scheduler did, not the host's.
 */
export function mainThreadWaitMs(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  if (!existsSync('/proc')) return [];
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the parent pid; the command name (field 2) may contain spaces, so split after ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}

/** True when `command` is on PATH. */
export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/**
 * How to run one of the bench's own child scripts with plain Node: the compiled copy in dist/
 * (`npm run build` compiles bench/ too) so no TypeScript loader sits in a measured process;
 * from source through tsx when there is no compiled copy.
 */
export function benchScript(name: string): { command: string; args: string[] } {
  const compiled = `${ROOT}dist/bench/${name}.js`;
  if (existsSync(compiled)) return { command: process.execPath, args: [compiled] };
  return { command: process.execPath, args: ['--import', 'tsx', `${ROOT}bench/${name}.ts`] };
}

/** Exit our own child scripts when the bench that started them goes away (stdin closes). */
export function exitWithParent(cleanup: () => void = () => {}): void {
  process.stdin.resume();
  process.stdin.on('end', () => {
    cleanup();
    process.exit(0);
  });
  process.stdin.on('error', () => process.exit(0));
}

/**
 * A backend process (backend.ts) on the client CPU; `idle` for one that stands in for a service
 * on other hosts (shadow mode's modern): its work then never takes CPU from the load generator.
 */
export async function startBackend(placement: Placement, name = 'backend', idle = false): Promise<{ url: string; stop(): Promise<void> }> {
  const { command, args } = benchScript('backend');
  const child = startChild(name, command, args, { cpu: placement.clientCpu, stdout: 'pipe', idle });
  const port = (await waitForLine(child, 'READY ')).split(' ')[1];
  return { url: `http://127.0.0.1:${port}`, stop: () => stopChild(child) };
}
