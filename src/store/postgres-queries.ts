import type pg from 'pg';
import type { BackendHistoryRow, BackendRow, BackendRowValues } from '../backends/store.js';
import type { FeedPosition, HistoryRow, RouteRow } from '../routing/store.js';
import type { Route } from '../routing/schema.js';
import type { OutboxEvent } from '../outbox/event.js';
import { insertEvents } from '../outbox/postgres-outbox-store.js';
import type { HistoryColumns } from './history-row.js';

/** The statements of the PostgreSQL store, on the pool (reads) or on one transaction's client. */
export class PgQueries {
  constructor(private readonly db: pg.Pool | pg.PoolClient) {}

  private async rows<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.db.query<T>(sql, params)).rows;
  }

  private async first<T extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<T | undefined> {
    return (await this.rows<T>(sql, params))[0];
  }

  feedPosition = async (): Promise<FeedPosition> => {
    const row = await this.first<{ routes: number | null; backends: number | null }>(
      'SELECT (SELECT MAX(seq) FROM route_history) AS routes, (SELECT MAX(seq) FROM backend_history) AS backends',
      [],
    );
    return { routes: row?.routes ?? 0, backends: row?.backends ?? 0 };
  };

  routeChanges = (after: number, limit: number) =>
    this.rows<{ seq: number; routeId: string }>('SELECT seq, route_id AS "routeId" FROM route_history WHERE seq > $1 ORDER BY seq LIMIT $2', [after, limit]);

  allRoutes = () => this.rows<RouteRow>('SELECT * FROM routes ORDER BY path_prefix');
  page = (limit: number, after: string | undefined) =>
    after === undefined
      ? this.rows<RouteRow>('SELECT * FROM routes ORDER BY path_prefix LIMIT $1', [limit])
      : this.rows<RouteRow>('SELECT * FROM routes WHERE path_prefix > $1 ORDER BY path_prefix LIMIT $2', [after, limit]);
  byIds = (ids: readonly string[]) => this.rows<RouteRow>('SELECT * FROM routes WHERE id = ANY($1::text[])', [ids]);
  byIdAfter = (after: string, limit: number) => this.rows<RouteRow>('SELECT * FROM routes WHERE id > $1 ORDER BY id LIMIT $2', [after, limit]);
  route = (id: string) => this.first<RouteRow>('SELECT * FROM routes WHERE id = $1', [id]);
  routeByPrefix = (prefix: string) => this.first<RouteRow>('SELECT * FROM routes WHERE path_prefix = $1', [prefix]);
  routeHistory = (id: string) => this.rows<HistoryRow>('SELECT * FROM route_history WHERE route_id = $1 ORDER BY version DESC', [id]);
  routeHistoryAt = (id: string, version: number) => this.first<HistoryRow>('SELECT * FROM route_history WHERE route_id = $1 AND version = $2', [id, version]);
  lastRouteVersion = async (id: string) =>
    (await this.first<{ v: number | null }>('SELECT MAX(version) AS v FROM route_history WHERE route_id = $1', [id]))?.v ?? 0;

  insertRoute = (r: Route) =>
    this.db.query(
      `INSERT INTO routes (id, path_prefix, mode, canary_percent, sticky_key, timeout_ms, max_body_bytes, resilience, legacy_backend, modern_backend, version, created_at, updated_at, shadow,
                           stage, retire_after_ms, rollout)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
      [r.id, r.pathPrefix, r.mode, r.canaryPercent, r.stickyKey, r.timeoutMs, r.maxBodyBytes, JSON.stringify(r.resilience), r.legacyBackend, r.modernBackend, r.version, r.createdAt, r.updatedAt, JSON.stringify(r.shadow), ...lifecycleColumns(r)],
    );
  updateRoute = (r: Route) =>
    this.db.query(
      `UPDATE routes SET path_prefix = $2, mode = $3, canary_percent = $4, sticky_key = $5, timeout_ms = $6, max_body_bytes = $7,
         resilience = $8, legacy_backend = $9, modern_backend = $10, version = $11, updated_at = $12, shadow = $13,
         stage = $14, retire_after_ms = $15, rollout = $16
       WHERE id = $1`,
      [r.id, r.pathPrefix, r.mode, r.canaryPercent, r.stickyKey, r.timeoutMs, r.maxBodyBytes, JSON.stringify(r.resilience), r.legacyBackend, r.modernBackend, r.version, r.updatedAt, JSON.stringify(r.shadow), ...lifecycleColumns(r)],
    );
  deleteRoute = (id: string) => this.db.query('DELETE FROM routes WHERE id = $1', [id]);
  insertRouteHistory = (routeId: string, h: HistoryColumns) => this.insertHistory('route_history', 'route_id', routeId, h);
  insertEvents = (events: readonly OutboxEvent[], now: number) => insertEvents(this.db, events, now);

  backends = () => this.rows<BackendRow>('SELECT * FROM backends ORDER BY name');
  backend = (name: string) => this.first<BackendRow>('SELECT * FROM backends WHERE name = $1', [name]);
  usedBy = async (name: string) => (await this.rows<{ id: string }>('SELECT id FROM routes WHERE legacy_backend = $1 OR modern_backend = $1 ORDER BY id', [name])).map((r) => r.id);
  backendHistory = (name: string) => this.rows<BackendHistoryRow>('SELECT * FROM backend_history WHERE name = $1 ORDER BY version DESC', [name]);
  lastBackendVersion = async (name: string) =>
    (await this.first<{ v: number | null }>('SELECT MAX(version) AS v FROM backend_history WHERE name = $1', [name]))?.v ?? 0;
  insertBackend = (b: BackendRowValues) =>
    this.db.query('INSERT INTO backends (name, settings, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)', [b.name, b.settings, b.version, b.createdAt, b.updatedAt]);
  updateBackend = (b: BackendRowValues) =>
    this.db.query('UPDATE backends SET settings = $2, version = $3, updated_at = $4 WHERE name = $1', [b.name, b.settings, b.version, b.updatedAt]);
  deleteBackend = (name: string) => this.db.query('DELETE FROM backends WHERE name = $1', [name]);
  insertBackendHistory = (name: string, h: HistoryColumns) => this.insertHistory('backend_history', 'name', name, h);

  /** The feed number is MAX + 1: gapless, and in commit order because writers hold the write lock. */
  private insertHistory(table: 'route_history' | 'backend_history', keyColumn: 'route_id' | 'name', key: string, h: HistoryColumns) {
    return this.db.query(
      `INSERT INTO ${table} (seq, ${keyColumn}, version, action, before, after, actor, reason, at)
       VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM ${table}), $1, $2, $3, $4, $5, $6, $7, $8)`,
      [key, h.version, h.action, h.before, h.after, h.actor, h.reason, h.at],
    );
  }
}

/** The stage, retire delay and saved rollout plan columns of a route. */
function lifecycleColumns(r: Route): unknown[] {
  return [r.stage, r.retireAfterMs, r.rollout === null ? null : JSON.stringify(r.rollout)];
}
