import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { z } from 'zod';
import type { DesiredBackend } from '../backends/plan.js';
import { BackendStore } from '../backends/store.js';
import type { Clock } from '../clock.js';
import { GatewayError } from '../errors.js';
import { applySteps, parkedPrefix, planApply } from '../store/apply-steps.js';
import { assertExpectedVersion } from '../store/conflict.js';
import { historyColumns, historyFields, type HistoryColumns } from '../store/history-row.js';
import { assertIntact, migrate, openFailure } from '../store/sqlite-schema.js';
import { retryWhileBusy } from '../store/sqlite-no-wait.js';
import { parseOrThrow } from '../validation.js';
import { withStage } from './lifecycle.js';
import { changedSettings, createdSettings, idCandidates, rollbackSnapshot, sameSettings } from './change.js';
import { LiveRowReader } from './live-row.js';
import type { Plan } from './plan.js';
import { settingsOf, type DesiredRoute } from './route-file.js';
import {
  DEFAULT_RESILIENCE,
  HistoryEntry,
  Route,
  type RouteSettings,
  mergeResilience,
  type ChangeMeta,
  type HistoryAction,
  type ResiliencePatch,
  RouteCreate,
} from './schema.js';
import type { ShadowPatch } from '../shadow/settings.js';
import { eventOf } from '../outbox/event.js';
import { SqliteOutboxStore } from '../outbox/outbox-store.js';

export { MIGRATIONS, SCHEMA_VERSION } from '../store/sqlite-schema.js';

/** Where a reader of the change feed has got to: the last history row it has seen, of each kind. */
export interface FeedPosition {
  routes: number;
  backends: number;
}

export interface ApplyOptions {
  prune: boolean;
  dryRun: boolean;
  /** The file's backends section; undefined leaves the backends as they are. */
  backends?: readonly DesiredBackend[] | undefined;
}

/** A change to a route: any top-level setting, and resilience settings merged field by field. */
export type RouteChanges = Partial<Omit<RouteSettings, 'resilience' | 'shadow'>> & {
  resilience?: ResiliencePatch | undefined;
  shadow?: ShadowPatch | undefined;
};


/** A `routes` row as SQLite returns it. */
export interface RouteRow {
  id: string;
  path_prefix: string;
  mode: string;
  canary_percent: number;
  sticky_key: string;
  timeout_ms: number;
  version: number;
  created_at: string;
  updated_at: string;
  resilience: string;
  max_body_bytes: number | null;
  legacy_backend: string;
  modern_backend: string;
  shadow: string;
  stage: string;
  retire_after_ms: number;
  rollout: string | null;
}

/** A `route_history` row as SQLite returns it. */
export interface HistoryRow extends HistoryColumns {
  route_id: string;
}

export interface RouteStoreOptions {
  clock: Clock;
  /** How long a writer waits for another process's write lock before failing. */
  busyTimeoutMs?: number;
  /** Skip the integrity check at open: for a second connection of a process that already checked. */
  skipIntegrityCheck?: boolean;
}

/** The route table's durable home: one SQLite file, shared safely by several gateway processes. */
export class RouteStore {
  /** The named backends, in the same database and transactions as the routes. */
  readonly backends: BackendStore;
  /** The outbox and webhooks; route changes write their events through it, in their transactions. */
  readonly outbox: SqliteOutboxStore;
  private readonly db: Database.Database;
  private readonly clock: Clock;
  private readonly listeners = new Set<() => void>();
  private readonly pageReader = new LiveRowReader();
  private readonly stmts;

  private constructor(db: Database.Database, clock: Clock) {
    this.db = db;
    this.clock = clock;
    this.backends = new BackendStore({ db, write: (fn) => this.write(fn), timestamp: () => this.timestamp() });
    this.outbox = new SqliteOutboxStore(db);
    this.stmts = {
      list: db.prepare<[], RouteRow>('SELECT * FROM routes ORDER BY path_prefix'),
      firstPage: db.prepare<[number], RouteRow>('SELECT * FROM routes ORDER BY path_prefix LIMIT ?'),
      pageAfter: db.prepare<[string, number], RouteRow>('SELECT * FROM routes WHERE path_prefix > ? ORDER BY path_prefix LIMIT ?'),
      feedPosition: db.prepare<[], { routes: number | null; backends: number | null }>(
        'SELECT (SELECT MAX(seq) FROM route_history) AS routes, (SELECT MAX(seq) FROM backend_history) AS backends',
      ),
      routeChanges: db.prepare<[number, number], { seq: number; routeId: string }>(
        'SELECT seq, route_id AS routeId FROM route_history WHERE seq > ? ORDER BY seq LIMIT ?',
      ),
      byIds: db.prepare<[string], RouteRow>('SELECT * FROM routes WHERE id IN (SELECT value FROM json_each(?))'),
      byIdAfter: db.prepare<[string, number], RouteRow>('SELECT * FROM routes WHERE id > ? ORDER BY id LIMIT ?'),
      get: db.prepare<[string], RouteRow>('SELECT * FROM routes WHERE id = ?'),
      byPrefix: db.prepare<[string], RouteRow>('SELECT * FROM routes WHERE path_prefix = ?'),
      insert: db.prepare(
        `INSERT INTO routes (id, path_prefix, mode, canary_percent, sticky_key, timeout_ms, max_body_bytes, resilience, legacy_backend, modern_backend, shadow, stage, retire_after_ms, rollout, version, created_at, updated_at)
         VALUES (@id, @pathPrefix, @mode, @canaryPercent, @stickyKey, @timeoutMs, @maxBodyBytes, @resilienceJson, @legacyBackend, @modernBackend, @shadowJson, @stage, @retireAfterMs, @rolloutJson, @version, @createdAt, @updatedAt)`,
      ),
      update: db.prepare(
        `UPDATE routes SET path_prefix = @pathPrefix, mode = @mode, canary_percent = @canaryPercent,
           sticky_key = @stickyKey, timeout_ms = @timeoutMs, max_body_bytes = @maxBodyBytes, resilience = @resilienceJson,
           legacy_backend = @legacyBackend, modern_backend = @modernBackend, shadow = @shadowJson, stage = @stage,
           retire_after_ms = @retireAfterMs, rollout = @rolloutJson, version = @version,
           updated_at = @updatedAt
         WHERE id = @id`,
      ),
      delete: db.prepare<[string]>('DELETE FROM routes WHERE id = ?'),
      parkPrefix: db.prepare<[string, string]>('UPDATE routes SET path_prefix = ? WHERE id = ?'),
      lastVersion: db.prepare<[string], { v: number | null }>(
        'SELECT MAX(version) AS v FROM route_history WHERE route_id = ?',
      ),
      history: db.prepare<[string], HistoryRow>(
        'SELECT * FROM route_history WHERE route_id = ? ORDER BY version DESC',
      ),
      historyAt: db.prepare<[string, number], HistoryRow>(
        'SELECT * FROM route_history WHERE route_id = ? AND version = ?',
      ),
      insertHistory: db.prepare(
        `INSERT INTO route_history (route_id, version, action, before, after, actor, reason, at)
         VALUES (@routeId, @version, @action, @before, @after, @actor, @reason, @at)`,
      ),
    };
  }

  /**
   * Opens (creating if needed) and migrates the database, waiting out another process busy with
   * it. Fails with DB_OPEN_FAILED, saying why, rather than ever starting on an empty or
   * half-readable table.
   */
  static open(path: string, options: RouteStoreOptions): RouteStore {
    return retryWhileBusy(() => RouteStore.openOnce(path, options), options.busyTimeoutMs ?? 5000);
  }

  private static openOnce(path: string, options: RouteStoreOptions): RouteStore {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { fileMustExist: false });
      db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      if (options.skipIntegrityCheck !== true) assertIntact(db);
      migrate(db);
      return new RouteStore(db, options.clock);
    } catch (err) {
      db?.close();
      const reason = err instanceof GatewayError ? err.message : openFailure(err);
      throw new GatewayError('DB_OPEN_FAILED', `cannot open route database ${path}: ${reason}`, {
        cause: err,
      });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get isOpen(): boolean {
    return this.db.open;
  }

  /** Called after every change this process commits. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells the listeners that another connection of this process (a worker's) committed a change. */
  changedElsewhere(): void {
    for (const listener of this.listeners) listener();
  }

  /** The open connection, for the stores of other concepts kept in the same database (shadow/shadow-store.ts). */
  get connection(): Database.Database {
    return this.db;
  }

  /** The database file, for an apply process to open its own connection to. */
  get path(): string {
    return this.db.name;
  }

  /** Changes whenever another connection commits; cheap enough to poll. */
  dataVersion(): number {
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  list(): Route[] {
    return this.stmts.list.all().map(toRoute);
  }

  /**
   * A page of the routes ordered by path prefix, after the prefix `after` (the cursor). Read
   * like the live table's rows (validated when written), so a page of a thousand costs a few ms.
   */
  page(limit: number, after?: string): Route[] {
    const rows = after === undefined ? this.stmts.firstPage.all(limit) : this.stmts.pageAfter.all(after, limit);
    return rows.map((row) => this.pageReader.read(row));
  }

  /**
   * The change feed's position: the newest history row of routes and of backends. History rows
   * are numbered as they commit (writers are serialised by BEGIN IMMEDIATE), so "everything
   * after N" never skips a change that committed late.
   */
  feedPosition(): FeedPosition {
    const row = this.stmts.feedPosition.get()!;
    return { routes: row.routes ?? 0, backends: row.backends ?? 0 };
  }

  /** Up to `limit` route changes after feed position `after`, oldest first: which route changed, at which position. */
  routeChanges(after: number, limit: number): { seq: number; routeId: string }[] {
    return this.stmts.routeChanges.all(after, limit);
  }

  /** The rows of the routes `ids` that still exist, as live-table routes (see LiveRowReader). */
  liveRoutes(ids: readonly string[], reader: LiveRowReader): Route[] {
    return this.stmts.byIds.all(JSON.stringify(ids)).map((row) => reader.read(row));
  }

  /** A page of every route by id, after `after`, as live-table routes: for loading the whole table in slices. */
  liveRoutesPage(after: string, limit: number, reader: LiveRowReader): Route[] {
    return this.stmts.byIdAfter.all(after, limit).map((row) => reader.read(row));
  }

  get(id: string): Route | undefined {
    const row = this.stmts.get.get(id);
    return row && toRoute(row);
  }

  history(id: string): HistoryEntry[] {
    const rows = this.stmts.history.all(id);
    if (rows.length === 0) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${id}"`);
    return rows.map(toHistoryEntry);
  }

  create(raw: z.input<typeof RouteCreate>, meta: ChangeMeta): Route {
    const input = parseOrThrow(RouteCreate, raw);
    return this.write(() => {
      const id = input.id ?? this.freeIdFor(input.pathPrefix);
      if (this.stmts.get.get(id)) throw new GatewayError('DUPLICATE_ID', `a route with id "${id}" already exists`);
      return this.insert(id, createdSettings(input), meta);
    });
  }

  /**
   * Makes the table match `desired` in one transaction: creates, updates (only entries whose
   * settings differ, so applying the same file twice makes no new versions) and, with `prune`,
   * deletes, backends first (when the file has a backends section) so routes can name them.
   * Each change gets its own history row. Any failure changes nothing.
   * Returns the plan it carried out (or, with `dryRun`, would carry out).
   */
  apply(desired: readonly DesiredRoute[], options: ApplyOptions, meta: ChangeMeta): Plan {
    const run = () => {
      // Read like the live table (shared, frozen settings; no schema parse per row): a million routes fit.
      const current = this.stmts.list.all().map((row) => this.pageReader.read(row));
      const plan = planApply(current, this.backends.list(), desired, options);
      if (!options.dryRun) this.carryOut(plan, new Map(current.map((r) => [r.id, r])), desired, options.backends ?? [], meta);
      return plan;
    };
    // A dry run only reads, so it neither takes the write lock nor wakes listeners.
    return options.dryRun ? this.db.transaction(run).deferred() : this.write(run);
  }

  private carryOut(plan: Plan, current: Map<string, Route>, desired: readonly DesiredRoute[], backends: readonly DesiredBackend[], meta: ChangeMeta): void {
    for (const step of applySteps(plan, current, desired, backends)) {
      switch (step.kind) {
        case 'createBackend':
          this.backends.insert({ name: step.name, ...step.settings }, meta);
          break;
        case 'updateBackend':
          this.backends.applyChange(this.backends.get(step.name)!, step.settings, meta, false);
          break;
        case 'deleteRoute':
          this.stmts.delete.run(step.route.id);
          this.record('delete', step.route, null, meta, step.route.version + 1);
          break;
        case 'parkPrefix':
          this.stmts.parkPrefix.run(parkedPrefix(step.route.id), step.route.id);
          break;
        case 'updateRoute':
          this.applyChange(step.route, step.settings, meta, 'update');
          break;
        case 'createRoute':
          this.insert(step.id, step.settings, meta);
          break;
        case 'deleteBackend':
          this.backends.remove(this.backends.get(step.name)!, meta);
          break;
      }
    }
  }

  /**
   * Applies `changes` as a new version. A change that alters nothing records nothing and
   * returns the route as it is, so repeating a call is harmless.
   */
  update(id: string, changes: RouteChanges, meta: ChangeMeta, action: HistoryAction = 'update', also?: (after: Route) => void): Route {
    return this.write(() => {
      const after = this.applyChange(this.current(id, meta), changes, meta, action);
      // A companion write (a rollout's state) commits or fails with the change.
      also?.(after);
      return after;
    });
  }

  /** Restores the settings a route had at `toVersion` (default: the version before the current one). */
  rollback(id: string, toVersion: number | undefined, meta: ChangeMeta): Route {
    return this.write(() => {
      const route = this.current(id, meta);
      const target = toVersion ?? route.version - 1;
      const row = target >= 1 ? this.stmts.historyAt.get(id, target) : undefined;
      const snapshot = rollbackSnapshot(route, target, toVersion, row?.after);
      return this.applyChange(route, settingsOf(snapshot), meta, 'rollback', true);
    });
  }

  delete(id: string, meta: ChangeMeta): Route {
    return this.write(() => {
      const route = this.current(id, meta);
      this.stmts.delete.run(id);
      this.record('delete', route, null, meta, route.version + 1);
      return route;
    });
  }

  private insert(id: string, settings: RouteSettings, meta: ChangeMeta): Route {
    this.assertPrefixFree(settings.pathPrefix, id);
    this.assertBackendsUsable(settings);
    const now = this.timestamp();
    // A re-created id continues its old numbering, so its history stays one sequence.
    const version = (this.stmts.lastVersion.get(id)?.v ?? 0) + 1;
    const route: Route = { id, ...settings, version, createdAt: now, updatedAt: now };
    this.stmts.insert.run(toRow(route));
    this.record('create', null, route, meta);
    return route;
  }

  private applyChange(
    route: Route,
    changes: RouteChanges,
    meta: ChangeMeta,
    action: HistoryAction,
    recordEvenIfSame = false,
  ): Route {
    const settings = changedSettings(route, changes);
    if (!recordEvenIfSame && sameSettings(settings, settingsOf(route))) return route;
    if (settings.pathPrefix !== route.pathPrefix) this.assertPrefixFree(settings.pathPrefix, route.id);
    if (settings.legacyBackend !== route.legacyBackend || settings.modernBackend !== route.modernBackend) this.assertBackendsUsable(settings);
    const next: Route = { ...route, ...settings, version: route.version + 1, updatedAt: this.timestamp() };
    this.stmts.update.run(toRow(next));
    this.record(action, route, next, meta);
    return next;
  }

  /** The route as it is now, checked against the caller's expected version. */
  private current(id: string, meta: ChangeMeta): Route {
    const route = this.get(id);
    if (route === undefined) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${id}"`);
    assertExpectedVersion('route', id, route.version, meta.expectedVersion);
    return route;
  }

  private assertPrefixFree(pathPrefix: string, id: string): void {
    const owner = this.stmts.byPrefix.get(pathPrefix);
    if (owner && owner.id !== id) {
      throw new GatewayError('DUPLICATE_PATH', `route "${owner.id}" already has path prefix ${pathPrefix}`);
    }
  }

  private assertBackendsUsable(settings: RouteSettings): void {
    this.backends.assertUsable(settings.legacyBackend, 'legacy', 'legacyBackend');
    this.backends.assertUsable(settings.modernBackend, 'modern', 'modernBackend');
  }

  private freeIdFor(pathPrefix: string): string {
    for (const id of idCandidates(pathPrefix)) if (!this.stmts.get.get(id)) return id;
    throw new Error('unreachable: the candidates never end');
  }

  private record(
    action: HistoryAction,
    before: Route | null,
    after: Route | null,
    meta: ChangeMeta,
    version = after?.version ?? 0,
  ): void {
    const at = this.timestamp();
    this.stmts.insertHistory.run({ routeId: (after ?? before)!.id, ...historyColumns(action, before, after, meta, version, at) });
    const event = eventOf(action, before, after, meta, { id: randomUUID(), at, version });
    if (event !== undefined) this.outbox.record(event, this.clock.now());
  }

  /** Runs `fn` in a BEGIN IMMEDIATE transaction, then tells listeners. */
  private write<T>(fn: () => T): T {
    const result = this.db.transaction(fn).immediate();
    for (const listener of this.listeners) listener();
    return result;
  }

  /** Now, as the store writes it. */
  timestamp(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

/** A `routes` row as a Route, validated: a row the schema refuses throws. */
export function toRoute(row: RouteRow): Route {
  return Route.parse({
    id: row.id,
    pathPrefix: row.path_prefix,
    mode: row.mode,
    canaryPercent: row.canary_percent,
    stickyKey: row.sticky_key,
    timeoutMs: row.timeout_ms,
    maxBodyBytes: row.max_body_bytes,
    legacyBackend: row.legacy_backend,
    modernBackend: row.modern_backend,
    resilience: mergeResilience(DEFAULT_RESILIENCE, JSON.parse(row.resilience) as ResiliencePatch),
    shadow: JSON.parse(row.shadow) as unknown,
    stage: row.stage,
    retireAfterMs: row.retire_after_ms,
    rollout: row.rollout === null ? null : (JSON.parse(row.rollout) as unknown),
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

export function toHistoryEntry(row: HistoryRow): HistoryEntry {
  const fields = historyFields(row);
  const snapshot = (route: unknown) => route && withStage(route as Record<string, unknown>);
  return HistoryEntry.parse({ routeId: row.route_id, ...fields, before: snapshot(fields.before), after: snapshot(fields.after) });
}

/** The named parameters the insert and update statements take. */
function toRow(route: Route): Route & { resilienceJson: string; shadowJson: string; rolloutJson: string | null } {
  const rolloutJson = route.rollout === null ? null : JSON.stringify(route.rollout);
  return { ...route, resilienceJson: JSON.stringify(route.resilience), shadowJson: JSON.stringify(route.shadow), rolloutJson };
}

