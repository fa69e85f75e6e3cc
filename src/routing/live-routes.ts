import type { Logger } from 'pino';
import type { LiveBackends } from '../backends/live-backends.js';
import { LiveRowReader } from './live-row.js';
import { RouteTable } from './route-table.js';
import type { Store } from '../store/store.js';
import type { FeedPosition } from './store.js';

export const DEFAULT_POLL_MS = 250;

/**
 * How many feed rows (or, for a full load, routes) one slice reads. A slice takes a few
 * milliseconds, so the serving event loop is never held for long, whatever the change's size.
 */
export const SLICE = 500;

/**
 * Holds the route table the data plane reads, and keeps the live backends in step with it.
 * It follows the store's change feed (the history tables, numbered as they commit): after a
 * change this process commits, when the store hears of one another process committed
 * (PostgreSQL's NOTIFY), and whenever polling the store's change stamp (SQLite's data_version,
 * PostgreSQL's feed position) shows one, it reads only the routes the feed names since its position and patches them
 * into the table. A change of more routes than a slice is applied over several event-loop
 * turns. The whole table is read only at start-up, and again (in slices, into a new table
 * swapped in when complete) when the feed has a gap, such as history rows removed by hand or a
 * database restored from a backup.
 */
export class LiveRoutes {
  private table = new RouteTable();
  private position: FeedPosition = { routes: 0, backends: 0 };
  private lastStamp = '';
  private timer: NodeJS.Timeout | undefined;
  private loaded = false;
  /** A catch-up is running over several slices; a new change only asks it to go on. */
  private catchingUp = false;
  private again = false;
  private stopped = false;
  private readonly reader = new LiveRowReader();
  private readonly unsubscribe: () => void;

  private pollFailing = false;

  private constructor(
    private readonly store: Store,
    private readonly backends: LiveBackends,
    private readonly logger: Logger,
    pollMs: number,
  ) {
    this.unsubscribe = store.onChange(() => this.catchUp());
    this.timer = setInterval(() => void this.poll(), pollMs);
    this.timer.unref();
  }

  /** Loads the whole table (at start-up nothing is served yet, so at once), then follows the feed. */
  static async start(store: Store, backends: LiveBackends, logger: Logger, pollMs = DEFAULT_POLL_MS): Promise<LiveRoutes> {
    const live = new LiveRoutes(store, backends, logger, pollMs);
    try {
      await live.load();
    } catch (err) {
      logger.error({ err }, 'loading routes failed');
    }
    return live;
  }

  get current(): RouteTable {
    return this.table;
  }

  /** True once a table has been loaded from the database. */
  get ready(): boolean {
    return this.loaded;
  }

  /** The feed position the table reflects. */
  get feedPosition(): Readonly<FeedPosition> {
    return this.position;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe();
  }

  private async poll(): Promise<void> {
    if (!this.store.isOpen) return;
    try {
      if ((await this.store.changeStamp()) !== this.lastStamp) this.catchUp();
      this.pollFailing = false;
    } catch (err) {
      // One line per outage, not one per poll.
      if (!this.pollFailing) this.logger.error({ err }, 'polling the route database failed; keeping the current routes');
      this.pollFailing = true;
    }
  }

  /** Applies what the feed says changed; the first slice at once, the rest on later turns. */
  private catchUp(): void {
    if (this.catchingUp) {
      this.again = true;
      return;
    }
    this.catchingUp = true;
    void this.step();
  }

  private async step(): Promise<void> {
    let next: 'more' | 'done' | 'reloading' = 'done';
    try {
      if (this.stopped || !this.store.isOpen) return void (this.catchingUp = false);
      if (!this.loaded) return void (await this.reloadInSlices());
      // Read first: a commit landing after this read is seen by the next poll.
      this.lastStamp = await this.store.changeStamp();
      const head = await this.store.feedPosition();
      if (head.routes < this.position.routes || head.backends < this.position.backends) return void (await this.reloadInSlices());
      if (head.backends > this.position.backends) {
        // Backends are few: read them all. Before the routes, which may name a new one.
        this.backends.sync(await this.store.backends.list());
        this.position = { ...this.position, backends: head.backends };
      }
      next = await this.applyRouteChanges();
    } catch (err) {
      // The next poll (its stamp forgotten) tries again.
      this.lastStamp = '';
      this.logger.error({ err }, 'applying route changes failed; keeping the current routes');
    }
    // A reload goes on by itself and catches up when it is done.
    if (next === 'reloading') return;
    if (next === 'more' || this.again) {
      this.again = false;
      setImmediate(() => void this.step());
    } else {
      this.catchingUp = false;
    }
  }

  /** One slice of the route feed. */
  private async applyRouteChanges(): Promise<'more' | 'done' | 'reloading'> {
    const changes = await this.store.routeChanges(this.position.routes, SLICE);
    if (changes.length === 0) return 'done';
    if (changes[0]!.seq !== this.position.routes + 1) {
      this.logger.warn({ expected: this.position.routes + 1, got: changes[0]!.seq }, 'gap in the route change feed: reloading every route');
      await this.reloadInSlices();
      return 'reloading';
    }
    const ids = [...new Set(changes.map((c) => c.routeId))];
    const current = new Map((await this.store.liveRoutes(ids, this.reader)).map((r) => [r.id, r]));
    for (const id of ids) {
      const route = current.get(id);
      if (route === undefined) this.table.remove(id);
      else this.table.put(route);
    }
    this.position = { ...this.position, routes: changes.at(-1)!.seq };
    this.logger.debug({ routes: ids.length, position: this.position.routes }, 'route changes applied');
    return changes.length === SLICE ? 'more' : 'done';
  }

  /** Everything, at once: start-up only. */
  private async load(): Promise<void> {
    this.lastStamp = await this.store.changeStamp();
    const position = await this.store.feedPosition();
    this.backends.sync(await this.store.backends.list());
    const table = new RouteTable();
    for (let after = ''; ; ) {
      const page = await this.store.liveRoutesPage(after, SLICE, this.reader);
      for (const route of page) table.put(route);
      if (page.length < SLICE) break;
      after = page.at(-1)!.id;
    }
    this.swap(table, position);
  }

  /**
   * Builds a new table in slices and swaps it in whole; changes committed meanwhile are then
   * caught up from the feed position taken before the first slice.
   */
  private async reloadInSlices(): Promise<void> {
    try {
      const position = await this.store.feedPosition();
      this.backends.sync(await this.store.backends.list());
      const table = new RouteTable();
      for (let after = ''; ; ) {
        if (this.stopped || !this.store.isOpen) return void (this.catchingUp = false);
        const page = await this.store.liveRoutesPage(after, SLICE, this.reader);
        for (const route of page) table.put(route);
        if (page.length < SLICE) break;
        after = page.at(-1)!.id;
        await new Promise((resolve) => setImmediate(resolve));
      }
      this.swap(table, position);
    } catch (err) {
      // The next poll tries again.
      this.logger.error({ err }, 'reloading routes failed; keeping the current routes');
      this.lastStamp = '';
      return void (this.catchingUp = false);
    }
    this.catchingUp = false;
    this.catchUp();
  }

  private swap(table: RouteTable, position: FeedPosition): void {
    this.table = table;
    this.position = position;
    this.loaded = true;
    this.logger.debug({ routes: table.size, position }, 'route table loaded');
  }
}
