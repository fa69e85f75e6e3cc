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
}

/** Opens the store `db` names. */
export async function openStore(db: string, options: OpenStoreOptions): Promise<Store> {
  return SqliteStore.open(db, options);
}
