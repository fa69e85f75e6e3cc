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
