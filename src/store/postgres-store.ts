import pg from 'pg';
import type { Logger } from 'pino';
import { toBackendHistoryEntry } from '../backends/store.js';
import { systemRandom, type Clock } from '../clock.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { LiveRowReader } from '../routing/live-row.js';
import { toHistoryEntry, toRoute } from '../routing/store.js';
import { runApplyJobOn } from './apply-job.js';
import { applyOffProcess } from './off-process.js';
import type { OpenStoreOptions } from './open.js';
import { PgBulkRoutes } from './postgres-bulk.js';
import { FEED_CHANNEL, FeedListener } from './postgres-listener.js';
import { PgQueries } from './postgres-queries.js';
import { LOCK_APP, WRITE_LOCK, migratePostgres } from './postgres-schema.js';
import { isConnectionError, redactUrl } from './postgres-url.js';
import { PgWrites } from './postgres-writes.js';
import { PostgresRolloutStore, writeRolloutWith } from '../rollout/postgres-rollout-store.js';
import type { RolloutStore } from '../rollout/rollout-store.js';
import { PostgresShadowStore } from '../shadow/postgres-shadow-store.js';
import type { ShadowStore } from '../shadow/shadow-store.js';
import { PostgresOutboxStore } from '../outbox/postgres-outbox-store.js';
import type { OutboxStore } from '../outbox/outbox-store.js';
import type { BackendStoreApi, Store, StoreHealth } from './store.js';

const OK: StoreHealth = Object.freeze({ state: 'ok' });

/** BIGINT (history seq, max_body_bytes) as a JavaScript number: both stay far below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The Store on PostgreSQL (14 or newer), for gateways on several hosts sharing one route table.
 *
 * Every write is one transaction that first takes a transaction-scoped advisory lock
 * (pg_advisory_xact_lock): writers on every gateway are serialised, so history rows are numbered
 * (MAX + 1) and committed in the same order, and a reader asking for "everything after N" never
 * skips a change that committed late. The commit NOTIFYs the new feed position (only that, never
 * the change); gateways LISTEN, and poll the feed position as well in case a notification is lost.
 *
 * When PostgreSQL cannot be reached the store is degraded: reads and writes fail with
 * STORE_UNAVAILABLE (503, nothing written), the live table keeps what it has, and the listener
 * reconnects with backoff, then everyone catches up from the feed.
 */
export class PostgresStore implements Store {
  readonly engine = 'postgres';
  readonly backends: BackendStoreApi;
  readonly shadow: ShadowStore;
  readonly rollouts: RolloutStore;
  readonly outbox: OutboxStore;
  private readonly listeners = new Set<() => void>();
  private readonly reads: PgQueries;
  private readonly pageReader = new LiveRowReader();
  private state: StoreHealth = OK;
  private open = true;
  private listener: FeedListener | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly statementTimeoutMs: number,
    readonly location: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.reads = new PgQueries(pool);
    this.shadow = new PostgresShadowStore(pool);
    this.rollouts = new PostgresRolloutStore(pool, () => this.timestamp());
    this.outbox = new PostgresOutboxStore(pool);
    this.backends = {
      list: () => this.read((w) => w.backendList()),
      get: (name) => this.read((w) => w.backend(name)),
      usedBy: (name) => this.read(() => this.reads.usedBy(name)),
      history: (name) =>
        this.read(async () => {
          const rows = await this.reads.backendHistory(name);
          if (rows.length === 0) throw new GatewayError('BACKEND_NOT_FOUND', `no backend "${name}"`);
          return rows.map(toBackendHistoryEntry);
        }),
      create: (input, meta) => this.write((w) => w.createBackend(input, meta)),
      update: (name, changes, meta) => this.write((w) => w.updateBackend(name, changes, meta)),
      delete: (name, meta) => this.write((w) => w.deleteBackend(name, meta)),
      ensureDefaults: (given, meta) => this.write((w) => w.ensureDefaults(given, meta)),
    };
  }

  /**
   * Connects, migrates (once across gateways, under an advisory lock) and starts listening.
   * Fails with DB_OPEN_FAILED, saying why in one line, when PostgreSQL cannot be reached.
   */
  static async open(url: string, options: OpenStoreOptions): Promise<PostgresStore> {
    const location = redactUrl(url);
    const timeoutMs = options.statementTimeoutMs ?? 5_000;
    const config: pg.PoolConfig = {
      connectionString: url,
      max: options.poolSize ?? 5,
      statement_timeout: timeoutMs,
      connectionTimeoutMillis: timeoutMs,
      keepAlive: true,
      application_name: 'strangler-gateway',
      types: TYPES,
    };
    const pool = new pg.Pool(config);
    const store = new PostgresStore(pool, url, timeoutMs, location, options.clock, options.logger);
    // An idle connection dropped by the server: the next query reconnects; say so once.
    pool.on('error', (err) => store.degrade(err));
    try {
      const client = await pool.connect();
      try {
        await migratePostgres(client);
      } finally {
        client.release();
      }
      if (options.listen !== false) {
        store.listener = new FeedListener(config, store.listenerEvents(), options.random ?? systemRandom, options.logger);
        await store.listener.start();
      }
      return store;
    } catch (err) {
      await pool.end().catch(() => undefined);
      const reason = isGatewayError(err) ? err.message : (err as Error).message || String((err as { code?: string }).code);
      throw new GatewayError('DB_OPEN_FAILED', `cannot open route database ${location}: ${reason}`, { cause: err });
    }
  }

  get isOpen(): boolean {
    return this.open;
  }

  get health(): StoreHealth {
    return this.state;
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await this.listener?.stop();
    await this.pool.end();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The feed position itself: two index lookups. */
  async changeStamp(): Promise<string> {
    const { routes, backends } = await this.feedPosition();
    return `${routes}:${backends}`;
  }

  feedPosition = () => this.read(() => this.reads.feedPosition());
  routeChanges: Store['routeChanges'] = (after, limit) => this.read(() => this.reads.routeChanges(after, limit));
  liveRoutes = (ids: readonly string[], reader: LiveRowReader) => this.read(async () => (await this.reads.byIds(ids)).map((row) => reader.read(row)));
  liveRoutesPage = (after: string, limit: number, reader: LiveRowReader) =>
    this.read(async () => (await this.reads.byIdAfter(after, limit)).map((row) => reader.read(row)));
  list: Store['list'] = () => this.read(async () => (await this.reads.allRoutes()).map(toRoute));
  page: Store['page'] = (limit, after) => this.read(async () => (await this.reads.page(limit, after)).map((row) => this.pageReader.read(row)));
  get: Store['get'] = (id) =>
    this.read(async () => {
      const row = await this.reads.route(id);
      return row && toRoute(row);
    });
  history: Store['history'] = (id) =>
    this.read(async () => {
      const rows = await this.reads.routeHistory(id);
      if (rows.length === 0) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${id}"`);
      return rows.map(toHistoryEntry);
    });
  create: Store['create'] = (raw, meta) => this.write((w) => w.create(raw, meta));
  update: Store['update'] = (id, changes, meta, action, rollout) =>
    this.write(async (w, client) => {
      const after = await w.update(id, changes, meta, action);
      if (rollout !== undefined) await writeRolloutWith(client, rollout, after.version, this.timestamp());
      return after;
    });
  rollback: Store['rollback'] = (id, toVersion, meta) => this.write((w) => w.rollback(id, toVersion, meta));
  delete: Store['delete'] = (id, meta) => this.write((w) => w.delete(id, meta));
  // A dry run runs the same code in a read-only transaction and rolls it back: it writes nothing and wakes nobody.
  apply: Store['apply'] = (desired, options, meta) => this.write((w) => w.apply(desired, options, meta), options.dryRun);
  // A large file is parsed and planned by a child process with its own connection, as on SQLite.
  applyFile: Store['applyFile'] = (job) =>
    applyOffProcess(
      { child: { db: this.url, statementTimeoutMs: this.statementTimeoutMs }, runHere: (j) => runApplyJobOn(this, j), changedElsewhere: () => this.notifyListeners() },
      job,
    );

  /** A read on the pool, its failures as the store's errors. */
  private async read<T>(fn: (w: PgWrites) => Promise<T>): Promise<T> {
    try {
      return await fn(new PgWrites(this.reads, () => this.timestamp()));
    } catch (err) {
      throw this.failure(err);
    }
  }

  /**
   * Runs `fn` in one transaction holding the write lock, announces the new feed position on
   * commit, then tells this process's listeners. `rollback` (a dry run) undoes it instead.
   */
  private async write<T>(fn: (w: PgWrites, client: pg.PoolClient) => Promise<T>, rollback = false): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.failure(err);
    }
    let broken: Error | undefined;
    try {
      if (rollback) {
        // A dry run only reads: one snapshot, no write lock, so it never queues behind or blocks a writer.
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      } else {
        await client.query('BEGIN');
        // Writers on every gateway, one at a time: feed numbers are taken and committed in order.
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_APP, WRITE_LOCK]);
      }
      const timestamp = () => this.timestamp();
      const result = await fn(new PgWrites(new PgQueries(client), timestamp, new PgBulkRoutes(client, timestamp)), client);
      if (rollback) {
        await client.query('ROLLBACK');
        return result;
      }
      await client.query(
        `SELECT pg_notify($1, COALESCE((SELECT MAX(seq) FROM route_history), 0) || ':' || COALESCE((SELECT MAX(seq) FROM backend_history), 0))`,
        [FEED_CHANNEL],
      );
      await client.query('COMMIT');
      this.notifyListeners();
      return result;
    } catch (err) {
      if (isConnectionError(err)) broken = err as Error;
      else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw this.failure(err);
    } finally {
      client.release(broken);
    }
  }

  /** A failure as the caller sees it: store errors as they are, a lost database as STORE_UNAVAILABLE. */
  private failure(err: unknown): Error {
    if (isGatewayError(err)) return err;
    const code = (err as { code?: string }).code;
    // statement_timeout: most often a write waiting for the write lock behind a long apply.
    if (code === '57014') return new GatewayError('DB_BUSY', 'the route database did not answer within --db-statement-timeout-ms; retry shortly', { cause: err });
    // Every pooled connection busy (writers queue on the write lock) while PostgreSQL answers the listener.
    if (this.state.state === 'ok' && this.listener !== undefined && /timeout exceeded when trying to connect/.test((err as Error).message)) {
      return new GatewayError('DB_BUSY', 'every connection of --db-pool-size stayed busy for --db-statement-timeout-ms; retry shortly', { cause: err });
    }
    if (isConnectionError(err)) {
      this.degrade(err as Error);
      return new GatewayError('STORE_UNAVAILABLE', `PostgreSQL at ${this.location} cannot be reached (${(err as Error).message}); nothing was written, retry shortly`, { cause: err });
    }
    return err as Error;
  }

  private degrade(err: Error): void {
    if (!this.open) return;
    if (this.state.state === 'ok') this.logger.warn({ err: err.message }, 'PostgreSQL cannot be reached: the store is degraded');
    this.state = { state: 'degraded', reason: err.message };
    this.listener?.recheck();
  }

  private listenerEvents() {
    return {
      changed: () => this.notifyListeners(),
      connected: (up: boolean, reason?: string) => {
        this.state = up ? OK : { state: 'degraded', reason: reason ?? 'the connection was lost' };
      },
    };
  }

  private notifyListeners(): void {
    for (const listener of this.listeners) listener();
  }

  private timestamp(): string {
    return new Date(this.clock.now()).toISOString();
  }
}
