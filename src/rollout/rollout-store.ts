import type Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';
import { withoutWaiting } from '../store/sqlite-no-wait.js';
import type { RolloutState } from './controller.js';
import type { StepCounts } from './step-window.js';
import type { RolloutView } from './view.js';

/**
 * A route's latest rollout as every gateway on the database sees it: the controller's state, the
 * route version its last move wrote, and the lease naming the one gateway that drives it.
 */
export interface RolloutRecord {
  routeId: string;
  state: RolloutState;
  /** The route's version after the rollout's last move: the next move expects it, and it names the current step's window. */
  version: number;
  /** The window the last verdict read, once the rollout has ended. */
  final: RolloutView['window'] | null;
  /** Bumped by every write of the state: a write expecting an older one changes nothing. */
  revision: number;
  /** The gateway holding the lease (host:pid), and until when (ms since the epoch, on the gateways' clocks). */
  leader: string | null;
  leaseUntil: number;
}

/**
 * A rollout write made in the same transaction as the route change it goes with (Store.update):
 * `expectedRevision` null starts a rollout (refused while another runs on the route), otherwise
 * the write happens only if nobody wrote the record since that revision. The store sets
 * `record.version` to the route's version after the change.
 */
export interface RolloutWrite {
  record: RolloutRecord;
  expectedRevision: number | null;
}

/** Rollouts in the route table's database, shared by its gateways (SQLite here; PostgreSQL: postgres-rollout-store.ts). */
export interface RolloutStore {
  get(routeId: string): Promise<RolloutRecord | undefined>;
  /** Every rollout running or paused. */
  active(): Promise<RolloutRecord[]>;
  /** Writes the state alone (a verdict, a pause); false when someone wrote it since `record.revision`. */
  save(record: RolloutRecord): Promise<boolean>;
  /** Takes the lease (when free or expired) or renews it; true when `gateway` now holds it until `until`. */
  claim(routeId: string, gateway: string, until: number, now: number): Promise<boolean>;
  /** This gateway's counts for the step named by `step` (a route version). */
  publish(routeId: string, gateway: string, step: number, counts: StepCounts, at: number): Promise<void>;
  /** Every gateway's published counts for that step. */
  windows(routeId: string, step: number): Promise<{ gateway: string; counts: StepCounts }[]>;
  /** Raises each route's latest fallback time to the given one (fallback-ledger.ts). */
  noteFallbacks(latest: ReadonlyMap<string, number>): Promise<void>;
  /** The route's latest fallback on any gateway; null for none recorded. */
  lastFallbackAt(routeId: string): Promise<number | null>;
}

/** A `rollouts` row, as both engines store it. */
export interface RolloutRow {
  route_id: string;
  record: string;
  revision: number;
  leader: string | null;
  lease_until: number;
}

export const ACTIVE = ['running', 'paused'] as const;

export function toRecord(row: RolloutRow): RolloutRecord {
  const { state, version, final } = JSON.parse(row.record) as Pick<RolloutRecord, 'state' | 'version' | 'final'>;
  return { routeId: row.route_id, state, version, final, revision: row.revision, leader: row.leader, leaseUntil: row.lease_until };
}

/** The columns of a record about to be written at revision `revision`. */
export function rowValues(record: RolloutRecord, revision: number, at: string) {
  const { state, version, final } = record;
  return {
    routeId: record.routeId,
    status: state.status,
    record: JSON.stringify({ state, version, final }),
    revision,
    leader: record.leader,
    leaseUntil: record.leaseUntil,
    at,
  };
}

export function rolloutRunning(routeId: string): GatewayError {
  return new GatewayError('ROLLOUT_RUNNING', `a rollout is already running on route "${routeId}"; abort it first`);
}

export function rolloutChanged(routeId: string): GatewayError {
  return new GatewayError('VERSION_CONFLICT', `the rollout on route "${routeId}" changed meanwhile (another gateway or caller wrote it)`);
}

/**
 * The SQLite RolloutStore, on the RouteStore's own connection (tables from migration 7). Its
 * periodic writes never wait for another writer's lock (sqlite-no-wait.ts): the driver and the
 * ledger try again at their next round.
 */
export class SqliteRolloutStore implements RolloutStore {
  private readonly stmts;
  private readonly noteAll: (latest: ReadonlyMap<string, number>) => void;

  constructor(private readonly db: Database.Database, private readonly timestamp: () => string) {
    this.stmts = {
      get: db.prepare<[string], RolloutRow>('SELECT * FROM rollouts WHERE route_id = ?'),
      active: db.prepare<[], RolloutRow>(`SELECT * FROM rollouts WHERE status IN ('running', 'paused') ORDER BY route_id`),
      start: db.prepare(
        `INSERT INTO rollouts (route_id, status, record, revision, leader, lease_until, updated_at)
         VALUES (@routeId, @status, @record, 1, @leader, @leaseUntil, @at)
         ON CONFLICT (route_id) DO UPDATE SET status = excluded.status, record = excluded.record, revision = rollouts.revision + 1,
           leader = excluded.leader, lease_until = excluded.lease_until, updated_at = excluded.updated_at
         WHERE rollouts.status NOT IN ('running', 'paused')`,
      ),
      clearWindows: db.prepare<[string]>('DELETE FROM rollout_windows WHERE route_id = ?'),
      save: db.prepare(
        `UPDATE rollouts SET status = @status, record = @record, revision = @revision, updated_at = @at
         WHERE route_id = @routeId AND revision = @revision - 1`,
      ),
      claim: db.prepare<[string, number, string, string, number]>(
        `UPDATE rollouts SET leader = ?, lease_until = ? WHERE route_id = ? AND status IN ('running', 'paused') AND (leader = ? OR lease_until <= ?)`,
      ),
      publish: db.prepare<[string, string, number, string, number]>(
        `INSERT INTO rollout_windows (route_id, gateway, step, counts, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (route_id, gateway) DO UPDATE SET step = excluded.step, counts = excluded.counts, at = excluded.at`,
      ),
      windows: db.prepare<[string, number], { gateway: string; counts: string }>('SELECT gateway, counts FROM rollout_windows WHERE route_id = ? AND step = ?'),
      noteFallback: db.prepare<[string, number]>(
        'INSERT INTO route_fallbacks (route_id, last_at) VALUES (?, ?) ON CONFLICT (route_id) DO UPDATE SET last_at = MAX(last_at, excluded.last_at)',
      ),
      lastFallback: db.prepare<[string], { last_at: number }>('SELECT last_at FROM route_fallbacks WHERE route_id = ?'),
    };
    this.noteAll = db.transaction((latest: ReadonlyMap<string, number>) => {
      for (const [id, at] of latest) this.stmts.noteFallback.run(id, at);
    });
  }

  get = async (routeId: string) => {
    const row = this.stmts.get.get(routeId);
    return row && toRecord(row);
  };

  active = async () => this.stmts.active.all().map(toRecord);

  save = async (record: RolloutRecord) => withoutWaiting(this.db, () => this.stmts.save.run(rowValues(record, record.revision + 1, this.timestamp())).changes === 1);

  claim = async (routeId: string, gateway: string, until: number, now: number) =>
    withoutWaiting(this.db, () => this.stmts.claim.run(gateway, until, routeId, gateway, now).changes === 1);

  publish = async (routeId: string, gateway: string, step: number, counts: StepCounts, at: number) => {
    withoutWaiting(this.db, () => this.stmts.publish.run(routeId, gateway, step, JSON.stringify(counts), at));
  };

  windows = async (routeId: string, step: number) =>
    this.stmts.windows.all(routeId, step).map((r) => ({ gateway: r.gateway, counts: JSON.parse(r.counts) as StepCounts }));

  noteFallbacks = async (latest: ReadonlyMap<string, number>) => withoutWaiting(this.db, () => this.noteAll(latest));

  lastFallbackAt = async (routeId: string) => this.stmts.lastFallback.get(routeId)?.last_at ?? null;

  /** The rollout half of a route change, inside its transaction (Store.update); throws to undo both. */
  writeWith(write: RolloutWrite, routeVersion: number): void {
    const record = { ...write.record, version: routeVersion };
    if (write.expectedRevision === null) {
      if (this.stmts.start.run(rowValues(record, 1, this.timestamp())).changes !== 1) throw rolloutRunning(record.routeId);
      this.stmts.clearWindows.run(record.routeId);
      return;
    }
    if (this.stmts.save.run(rowValues(record, write.expectedRevision + 1, this.timestamp())).changes !== 1) throw rolloutChanged(record.routeId);
  }
}
