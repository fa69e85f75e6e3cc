import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Resolves with the first JSON log line whose msg is `msg`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Runs the `strangler` CLI from source in a child process, as a user would run the bin;
 * `program` runs another command line instead (e.g. the built bin/strangler), with `args` after it.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, options: { stdin?: string; program?: string[] } = {}): CliRun {
  const [file, ...before] = options.program ?? [process.execPath, '--import', 'tsx', 'src/cli/entry.ts'];
  const child = spawn(file!, [...before, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { msg: string; resolve: (v: Record<string, unknown>) => void }[] = [];
  collectLines(child.stdout!, (line) => {
    stdout.push(line);
    const entry = tryJson(line);
    for (const w of waiters.filter((w) => entry?.msg === w.msg)) w.resolve(entry!);
  });
  collectLines(child.stderr!, (line) => stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout,
    stderr,
    exited,
    waitForLog(msg, timeoutMs = 15_000) {
      const seen = stdout.map(tryJson).find((e) => e?.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no "${msg}" log line; stderr: ${stderr.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({ msg, resolve: (v) => (clearTimeout(timer), resolve(v)) });
        void exited.then(() => reject(new Error(`exited before "${msg}"; stderr: ${stderr.join('\n')}`)));
      });
    },
    kill(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
    },
  };
}

function collectLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) if (line !== '') onLine(line);
  });
  stream.on('end', () => buffered !== '' && onLine(buffered));
}

function tryJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** What one CLI run printed and how it exited. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `strangler <args>` against an admin API, as an operator would run it: `cli` for any outcome,
 * `ok` for a run that must succeed (its stdout), `json` for its `--json` output.
 */
export function adminCli(adminUrl: () => string) {
  const cli = async (args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<CliResult> => {
    const run = runCli(args, { STRANGLER_ADMIN_URL: adminUrl(), ...env }, { stdin });
    const code = await run.exited;
    return { code, stdout: run.stdout.join('\n'), stderr: run.stderr.join('\n') };
  };
  const ok = async (args: string[]): Promise<string> => {
    const result = await cli(args);
    expect(result, `strangler ${args.join(' ')}`).toMatchObject({ code: 0, stderr: '' });
    return result.stdout;
  };
  const json = async (args: string[]): Promise<any> => JSON.parse(await ok([...args, '--json']));
  return { cli, ok, json };
}
