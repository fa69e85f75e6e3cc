/**
 * The worker thread behind large `POST /apply` calls: it opens its own connection to the route
 * database (SQLite or PostgreSQL), so parsing, validating and writing a file of a million routes
 * never holds the serving event loop. One job per worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import pino from 'pino';
import { systemClock } from '../clock.js';
import { RouteStore } from '../routing/store.js';
import { runApplyJob, runApplyJobOn, type ApplyJob, type ApplyOutcome } from './apply-job.js';
import type { WorkerStore } from './off-thread.js';
import { isPostgresUrl } from './open.js';

const { store: where, job } = workerData as { store: WorkerStore; job: ApplyJob };

async function run(): Promise<ApplyOutcome> {
  if (isPostgresUrl(where.db)) {
    const { PostgresStore } = await import('./postgres-store.js');
    // One connection, no LISTEN: the serving thread's store hears of the commit.
    const store = await PostgresStore.open(where.db, { clock: systemClock, logger: pino({ level: 'silent' }), poolSize: 1, statementTimeoutMs: where.statementTimeoutMs, listen: false });
    try {
      return await runApplyJobOn(store, job);
    } finally {
      await store.close();
    }
  }
  const store = RouteStore.open(where.db, { clock: systemClock, busyTimeoutMs: where.busyTimeoutMs, skipIntegrityCheck: true });
  try {
    return runApplyJob(store, job);
  } finally {
    store.close();
  }
}

let outcome: ApplyOutcome;
try {
  outcome = await run();
} catch (err) {
  outcome = { ok: false, code: 'INTERNAL', message: (err as Error).message };
}
const { json } = outcome as { json?: Uint8Array };
// Pooled small buffers share their memory: only a buffer of its own can be handed over.
const own = json !== undefined && json.byteOffset === 0 && json.byteLength === json.buffer.byteLength;
parentPort!.postMessage(outcome, own ? [json.buffer as ArrayBuffer] : []);
