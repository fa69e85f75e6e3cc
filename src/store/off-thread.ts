import { Worker } from 'node:worker_threads';
import type { ApplyJob, ApplyOutcome } from './apply-job.js';

/**
 * Bodies up to this size are applied on the serving thread (milliseconds); larger ones in a
 * worker thread with its own database connection, so a large file never stalls traffic.
 */
export const IN_THREAD_APPLY_BYTES = 256 * 1024;

/** How a worker opens its own connection to the store (apply-worker.ts). */
export interface WorkerStore {
  /** The `--db` value: a SQLite path or a PostgreSQL URL. Handed to the worker, never printed. */
  db: string;
  busyTimeoutMs?: number | undefined;
  statementTimeoutMs?: number | undefined;
}

/** What an engine gives applyOffThread: where a worker connects, and how to apply here instead. */
export interface OffThreadTarget {
  worker: WorkerStore;
  runHere(job: ApplyJob): ApplyOutcome | Promise<ApplyOutcome>;
  /** Tells the live table that the worker's connection committed a change. */
  changedElsewhere(): void;
}

/** Runs an apply where it costs the data plane nothing, then tells the live table what changed. */
export async function applyOffThread(target: OffThreadTarget, job: ApplyJob): Promise<ApplyOutcome> {
  // An in-memory database is private to its connection: it can only be written here.
  if (job.body.byteLength <= IN_THREAD_APPLY_BYTES || target.worker.db === ':memory:') return target.runHere(job);
  const outcome = await inWorker(target.worker, job);
  if (outcome.ok && outcome.changed.routes + outcome.changed.backends > 0) target.changedElsewhere();
  return outcome;
}

function inWorker(store: WorkerStore, job: ApplyJob): Promise<ApplyOutcome> {
  // Compiled, the worker is a sibling .js file; under the test runner it is TypeScript, loaded through tsx.
  const typescript = import.meta.url.endsWith('.ts');
  const url = new URL(typescript ? './apply-worker.ts' : './apply-worker.js', import.meta.url);
  const transfer = job.body.byteOffset === 0 && job.body.byteLength === job.body.buffer.byteLength ? [job.body.buffer as ArrayBuffer] : [];
  // tsx registers its loader inside the worker first (a worker's execArgv cannot carry --import).
  const entry = typescript ? `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url.href)}); })` : url;
  return new Promise((resolve) => {
    const worker = new Worker(entry, { eval: typescript, workerData: { store, job }, transferList: transfer });
    let settled = false;
    const done = (outcome: ApplyOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };
    worker.once('message', (outcome: ApplyOutcome) => done(outcome));
    worker.once('error', (err) => done({ ok: false, code: 'INTERNAL', message: err.message }));
    worker.once('exit', (code) => done({ ok: false, code: 'INTERNAL', message: `the apply worker exited with code ${code}` }));
  });
}
