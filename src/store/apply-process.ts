/**
 * The child process behind large `POST /apply` calls: it opens its own connection to the route
 * database, so parsing, validating and writing a file of a million routes never holds the
 * serving event loop, and the memory it takes is returned when it exits. One job per process:
 * the job's settings arrive over IPC, the body on stdin; the outcome goes back over IPC.
 */
import { systemClock } from '../clock.js';
import { RouteStore } from '../routing/store.js';
import type { ChangeMeta } from '../routing/schema.js';
import { runApplyJob, type ApplyOutcome } from './apply-job.js';

interface Settings {
  path: string;
  busyTimeoutMs: number;
  meta: ChangeMeta;
}

function run(settings: Settings, body: Buffer): ApplyOutcome {
  try {
    const store = RouteStore.open(settings.path, { clock: systemClock, busyTimeoutMs: settings.busyTimeoutMs, skipIntegrityCheck: true });
    try {
      return runApplyJob(store, { body, meta: settings.meta });
    } finally {
      store.close();
    }
  } catch (err) {
    return { ok: false, code: 'INTERNAL', message: (err as Error).message };
  }
}

const settings = new Promise<Settings>((resolve) => process.once('message', (m) => resolve(m as Settings)));
const chunks: Buffer[] = [];
process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
process.stdin.once('end', () => {
  void settings.then((s) => {
    const outcome = run(s, Buffer.concat(chunks));
    chunks.length = 0;
    process.send!(outcome, () => process.disconnect());
  });
});
