/**
 * The child process behind large `POST /apply` calls: it opens its own connection to the route
 * database (SQLite or PostgreSQL), so parsing, validating and writing a file of a million routes
 * never holds the serving event loop, and the memory it takes is returned when it exits. One job
 * per process: the job's settings arrive over IPC, the body on stdin; the outcome goes back over IPC.
 */
import pino from 'pino';
import { systemClock } from '../clock.js';
import { RouteStore } from '../routing/store.js';
import type { ChangeMeta } from '../routing/schema.js';
import { runApplyJob, runApplyJobOn, type ApplyJob, type ApplyOutcome } from './apply-job.js';
import type { ApplyProcessStore } from './off-process.js';
import { isPostgresUrl } from './open.js';

async function run(where: ApplyProcessStore, job: ApplyJob): Promise<ApplyOutcome> {
  if (isPostgresUrl(where.db)) {
    const { PostgresStore } = await import('./postgres-store.js');
    // One connection, no LISTEN: the gateway's store hears of the commit.
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

const settings = new Promise<{ store: ApplyProcessStore; meta: ChangeMeta }>((resolve) => process.once('message', (m) => resolve(m as never)));
const chunks: Buffer[] = [];
process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
process.stdin.once('end', () => {
  void settings.then(async ({ store, meta }) => {
    let outcome: ApplyOutcome;
    try {
      outcome = await run(store, { body: Buffer.concat(chunks), meta });
    } catch (err) {
      outcome = { ok: false, code: 'INTERNAL', message: (err as Error).message };
    }
    chunks.length = 0;
    process.send!(outcome, () => process.disconnect());
  });
});
