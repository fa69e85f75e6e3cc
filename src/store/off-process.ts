import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import type { RouteStore } from '../routing/store.js';
import { runApplyJob, type ApplyJob, type ApplyOutcome } from './apply-job.js';

/**
 * Bodies up to this size are applied on the serving thread (milliseconds); larger ones in a
 * child process with its own database connection, so a large file never stalls traffic.
 */
export const IN_THREAD_APPLY_BYTES = 256 * 1024;

/**
 * Below the serving process: on a busy machine the kernel gives the data plane the CPU first and
 * the apply what is left (a nice value; 0 is the default, 19 the lowest).
 */
const APPLY_NICENESS = 10;

/** Runs an apply where it costs the data plane nothing, then tells the live table what changed. */
export async function applyOffProcess(store: RouteStore, job: ApplyJob, busyTimeoutMs: number): Promise<ApplyOutcome> {
  // An in-memory database is private to its connection: it can only be written here.
  if (job.body.byteLength <= IN_THREAD_APPLY_BYTES || store.path === ':memory:') return runApplyJob(store, job);
  const outcome = await inChildProcess(store.path, busyTimeoutMs, job);
  if (outcome.ok && outcome.changed.routes + outcome.changed.backends > 0) store.changedElsewhere();
  return outcome;
}

/**
 * A process rather than a worker thread: parsing a million routes takes gigabytes of heap, and a
 * worker's heap lives in the gateway's own process, which the allocator rarely gives back to the
 * system; a process returns all of it when it exits. The body goes through the child's stdin
 * (written from the buffer as the pipe drains, no copy), the outcome back over IPC.
 */
function inChildProcess(path: string, busyTimeoutMs: number, job: ApplyJob): Promise<ApplyOutcome> {
  // Compiled, the child is a sibling .js file; under the test runner it is TypeScript, loaded through tsx.
  const typescript = import.meta.url.endsWith('.ts');
  const url = new URL(typescript ? './apply-process.ts' : './apply-process.js', import.meta.url);
  const child = fork(url, [], {
    execArgv: typescript ? ['--import', 'tsx'] : [],
    stdio: ['pipe', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  try {
    if (child.pid !== undefined) setPriority(child.pid, APPLY_NICENESS);
  } catch {
    // Not permitted here (some containers): it still runs, at the same priority.
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (outcome: ApplyOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    child.once('message', (outcome: ApplyOutcome) => done(outcome));
    child.once('error', (err) => done({ ok: false, code: 'INTERNAL', message: `the apply process failed: ${err.message}` }));
    child.once('exit', (code, signal) => done({ ok: false, code: 'INTERNAL', message: `the apply process exited with ${signal ?? `code ${code}`}` }));
    child.stdin!.on('error', () => {}); // the child's exit says what went wrong
    child.send({ path, busyTimeoutMs, meta: job.meta });
    child.stdin!.end(job.body);
  });
}
