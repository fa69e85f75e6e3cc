import type { Logger } from 'pino';
import type { Clock, Random } from '../clock.js';
import { SqliteStore } from './sqlite-store.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  clock: Clock;
  random?: Random | undefined;
  logger: Logger;
  /** SQLite: how long a writer waits for another process's write lock. */
  busyTimeoutMs?: number | undefined;
  /** PostgreSQL: connections in the pool. */
  poolSize?: number | undefined;
  /** PostgreSQL: the longest any statement may run. */
  statementTimeoutMs?: number | undefined;
  /** PostgreSQL: LISTEN for other gateways' changes (default true; an apply process does not). */
  listen?: boolean | undefined;
}

/** A `--db` value that names a PostgreSQL database rather than a SQLite file. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/** Opens the store `db` names: a PostgreSQL URL, or else a SQLite file path. */
export async function openStore(db: string, options: OpenStoreOptions): Promise<Store> {
  if (isPostgresUrl(db)) {
    const { PostgresStore } = await import('./postgres-store.js');
    return PostgresStore.open(db, options);
  }
  return SqliteStore.open(db, options);
}
