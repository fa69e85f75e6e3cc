import type Database from 'better-sqlite3';

/**
 * Runs `fn` with SQLite's busy timeout at zero. For background writes made on the serving event
 * loop (shadow results, rollout counts and leases, fallback times): another writer's lock (an
 * apply in a child process can hold it for seconds) fails the write at once with SQLITE_BUSY
 * instead of stalling every request, and the caller tries again at its next round.
 */
export function withoutWaiting<T>(db: Database.Database, fn: () => T): T {
  const busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
  db.pragma('busy_timeout = 0');
  try {
    return fn();
  } finally {
    db.pragma(`busy_timeout = ${busyTimeout}`);
  }
}

/** SQLite's "another connection holds the write lock" (any SQLITE_BUSY_* or SQLITE_LOCKED): nothing was written; try again later. */
export function isSqliteBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code === 'SQLITE_LOCKED');
}

/**
 * Runs `fn` again while it fails with SQLITE_BUSY, for up to `timeoutMs`, pausing a few ms
 * between tries. For opening a database at start-up only (it blocks the thread): there SQLite
 * can answer busy without waiting out its busy timeout, e.g. when two processes switch a new
 * file to WAL at the same moment and each holds the lock the other needs.
 */
export function retryWhileBusy<T>(fn: () => T, timeoutMs: number): T {
  const deadline = performance.now() + timeoutMs;
  for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
    try {
      return fn();
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause ?? err;
      if (!isSqliteBusy(cause) || performance.now() + pause > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    }
  }
}
