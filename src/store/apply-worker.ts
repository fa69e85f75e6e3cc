/**
 * The worker thread behind large `POST /apply` calls: it opens its own connection to the route
 * database, so parsing, validating and writing a file of a million routes never holds the
 * serving event loop. One job per worker.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../clock.js';
import { RouteStore } from '../routing/store.js';
import { runApplyJob, type ApplyJob, type ApplyOutcome } from './apply-job.js';

const { path, busyTimeoutMs, job } = workerData as { path: string; busyTimeoutMs: number; job: ApplyJob };
let outcome: ApplyOutcome;
try {
  const store = RouteStore.open(path, { clock: systemClock, busyTimeoutMs, skipIntegrityCheck: true });
  try {
    outcome = runApplyJob(store, job);
  } finally {
    store.close();
  }
} catch (err) {
  outcome = { ok: false, code: 'INTERNAL', message: (err as Error).message };
}
const { json } = outcome as { json?: Uint8Array };
// Pooled small buffers share their memory: only a buffer of its own can be handed over.
const own = json !== undefined && json.byteOffset === 0 && json.byteLength === json.buffer.byteLength;
parentPort!.postMessage(outcome, own ? [json.buffer as ArrayBuffer] : []);
