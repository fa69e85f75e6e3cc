import type { Clock } from '../clock.js';
import { RouteStore } from '../routing/store.js';
import { SqliteRolloutStore } from '../rollout/rollout-store.js';
import { SqliteShadowStore, type ShadowStore } from '../shadow/shadow-store.js';
import type { OutboxStore } from '../outbox/outbox-store.js';
import { runApplyJob } from './apply-job.js';
import { applyOffProcess } from './off-process.js';
import type { BackendStoreApi, Store, StoreHealth } from './store.js';

const OK: StoreHealth = Object.freeze({ state: 'ok' });

/**
 * The Store on one SQLite file (RouteStore, synchronous better-sqlite3), shared safely by the
 * gateway processes of one host. A local file is always reachable, so its health is always ok.
 */
export class SqliteStore implements Store {
  readonly engine = 'sqlite';
  readonly health = OK;
  readonly backends: BackendStoreApi;
  readonly shadow: ShadowStore;
  readonly rollouts: SqliteRolloutStore;
  readonly outbox: OutboxStore;

  constructor(
    readonly sync: RouteStore,
    private readonly busyTimeoutMs = 5_000,
  ) {
    this.shadow = new SqliteShadowStore(sync.connection);
    this.rollouts = new SqliteRolloutStore(sync.connection, () => sync.timestamp());
    this.outbox = sync.outbox;
    const b = sync.backends;
    this.backends = {
      list: async () => b.list(),
      get: async (name) => b.get(name),
      usedBy: async (name) => b.usedBy(name),
      history: async (name) => b.history(name),
      create: async (input, meta) => b.create(input, meta),
      update: async (name, changes, meta) => b.update(name, changes, meta),
      delete: async (name, meta) => b.delete(name, meta),
      ensureDefaults: async (given, meta) => b.ensureDefaults(given, meta),
    };
  }

  /** Opens (creating and migrating) the file; fails with DB_OPEN_FAILED, saying why. */
  static open(path: string, options: { clock: Clock; busyTimeoutMs?: number | undefined }): SqliteStore {
    return new SqliteStore(RouteStore.open(path, options), options.busyTimeoutMs);
  }

  get location(): string {
    return this.sync.path;
  }

  get isOpen(): boolean {
    return this.sync.isOpen;
  }

  async close(): Promise<void> {
    this.sync.close();
  }

  onChange(listener: () => void): () => void {
    return this.sync.onChange(listener);
  }

  /** SQLite's data_version: changes whenever another connection commits. */
  async changeStamp(): Promise<string> {
    return String(this.sync.dataVersion());
  }

  feedPosition = async () => this.sync.feedPosition();
  routeChanges: Store['routeChanges'] = async (after, limit) => this.sync.routeChanges(after, limit);
  liveRoutes: Store['liveRoutes'] = async (ids, reader) => this.sync.liveRoutes(ids, reader);
  liveRoutesPage: Store['liveRoutesPage'] = async (after, limit, reader) => this.sync.liveRoutesPage(after, limit, reader);
  list: Store['list'] = async () => this.sync.list();
  page: Store['page'] = async (limit, after) => this.sync.page(limit, after);
  get: Store['get'] = async (id) => this.sync.get(id);
  history: Store['history'] = async (id) => this.sync.history(id);
  create: Store['create'] = async (raw, meta) => this.sync.create(raw, meta);
  update: Store['update'] = async (id, changes, meta, action, rollout) =>
    this.sync.update(id, changes, meta, action, rollout && ((after) => this.rollouts.writeWith(rollout, after.version)));
  rollback: Store['rollback'] = async (id, toVersion, meta) => this.sync.rollback(id, toVersion, meta);
  delete: Store['delete'] = async (id, meta) => this.sync.delete(id, meta);
  apply: Store['apply'] = async (desired, options, meta) => this.sync.apply(desired, options, meta);
  applyFile: Store['applyFile'] = (job) =>
    applyOffProcess(
      { child: { db: this.sync.path, busyTimeoutMs: this.busyTimeoutMs }, runHere: (j) => runApplyJob(this.sync, j), changedElsewhere: () => this.sync.changedElsewhere() },
      job,
    );
}
