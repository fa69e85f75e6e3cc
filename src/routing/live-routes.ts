import type { Logger } from 'pino';
import type { LiveBackends } from '../backends/live-backends.js';
import { RouteTable } from './route-table.js';
import type { RouteStore } from './store.js';

export const DEFAULT_POLL_MS = 250;

/**
 * Holds the route table the data plane reads, and keeps the live backends in step with it. It is rebuilt from the store after every
 * change this process makes, and after every change another process commits to the same
 * file (seen by polling SQLite's data_version), so gateways sharing a database agree
 * within one poll interval. A failed reload keeps the last good table.
 */
export class LiveRoutes {
  private table: RouteTable = RouteTable.empty;
  private lastDataVersion = -1;
  private timer: NodeJS.Timeout | undefined;
  private loaded = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: RouteStore,
    private readonly backends: LiveBackends,
    private readonly logger: Logger,
    pollMs = DEFAULT_POLL_MS,
  ) {
    this.reload();
    this.unsubscribe = store.onChange(() => this.reload());
    this.timer = setInterval(() => this.poll(), pollMs);
    this.timer.unref();
  }

  get current(): RouteTable {
    return this.table;
  }

  /** True once a table has been loaded from the database. */
  get ready(): boolean {
    return this.loaded;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe();
  }

  private poll(): void {
    if (!this.store.isOpen) return;
    try {
      if (this.store.dataVersion() !== this.lastDataVersion) this.reload();
    } catch (err) {
      this.logger.error({ err }, 'polling the route database failed; keeping the current routes');
    }
  }

  private reload(): void {
    try {
      // Read the version first: a commit landing between the two reads triggers one more reload.
      const dataVersion = this.store.dataVersion();
      const { routes, backends } = this.store.snapshot();
      // Backends first: a route may name one that this change created.
      this.backends.sync(backends);
      const table = new RouteTable(routes);
      this.table = table;
      this.lastDataVersion = dataVersion;
      this.loaded = true;
      this.logger.debug({ routes: table.size }, 'route table reloaded');
    } catch (err) {
      this.logger.error({ err }, 'reloading routes failed; keeping the current routes');
    }
  }
}
