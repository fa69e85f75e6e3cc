import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import type { ApplyJob, ApplyOutcome } from './apply-job.js';

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

/** How an apply process opens its own connection to the store (apply-process.ts). */
export interface ApplyProcessStore {
  /** The `--db` value: a SQLite path or a PostgreSQL URL. Handed to the child, never printed. */
  db: string;
  busyTimeoutMs?: number | undefined;
  statementTimeoutMs?: number | undefined;
}

/** What an engine gives applyOffProcess: where a child connects, and how to apply here instead. */
export interface OffProcessTarget {
  child: ApplyProcessStore;
  runHere(job: ApplyJob): ApplyOutcome | Promise<ApplyOutcome>;
  /** Tells the live table that the child's connection committed a change. */
  changedElsewhere(): void;
}

/** Runs an apply where it costs the data plane nothing, then tells the live table what changed. */
export async function applyOffProcess(target: OffProcessTarget, job: ApplyJob): Promise<ApplyOutcome> {
  // An in-memory database is private to its connection: it can only be written here.
  if (job.body.byteLength <= IN_THREAD_APPLY_BYTES || target.child.db === ':memory:') return target.runHere(job);
  const outcome = await inChildProcess(target.child, job);
  if (outcome.ok && outcome.changed.routes + outcome.changed.backends > 0) target.changedElsewhere();
  return outcome;
}

/**
 * A process rather than a worker thread: parsing a million routes takes gigabytes of heap, and a
 * worker's heap lives in the gateway's own process, which the allocator rarely gives back to the
 * system; a process returns all of it when it exits. The body goes through the child's stdin
 * (written from the buffer as the pipe drains, no copy), the outcome back over IPC.
 */
function inChildProcess(store: ApplyProcessStore, job: ApplyJob): Promise<ApplyOutcome> {
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
    child.send({ store, meta: job.meta });
    child.stdin!.end(job.body);
  });
}
