import type Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';
import { parseOrThrow } from '../validation.js';
import { assertDeletable, assertUnused, assertUsable, backendNotFound, changedBackendSettings, missingDefault, newBackendSettings } from './rules.js';
import {
  Backend,
  BackendCreate,
  BackendHistoryEntry,
  DEFAULT_BACKEND_NAMES,
  backendSettingsOf,
  definedOnly,
  type BackendChanges,
  type BackendHistoryAction,
  type Side,
} from './schema.js';
import type { z } from 'zod';
import { assertExpectedVersion } from '../store/conflict.js';
import { historyColumns, historyFields, type HistoryColumns } from '../store/history-row.js';

/** Who made a change and why, and the version the caller believes it is changing. */
export interface BackendChangeMeta {
  actor: string;
  reason?: string | undefined;
  expectedVersion?: number | undefined;
}

/** What `strangler serve` may set on the default backends. */
export interface StartupSettings {
  url?: string | undefined;
  maxInFlight?: number | undefined;
}

/** What the backend table needs from the store that owns the database connection. */
export interface StoreContext {
  db: Database.Database;
  /** Runs `fn` in one BEGIN IMMEDIATE transaction and tells live readers afterwards. */
  write<T>(fn: () => T): T;
  timestamp(): string;
}

/** A `backends` row as SQLite returns it; the settings are one validated JSON document. */
export interface BackendRow {
  name: string;
  settings: string;
  version: number;
  created_at: string;
  updated_at: string;
}

/** A backend as its row's values (settings as one JSON document). */
export interface BackendRowValues {
  name: string;
  settings: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface BackendHistoryRow extends HistoryColumns {
  name: string;
}

/**
 * The named backends, in the route database beside the routes, each change written with its
 * history row in the same transaction. The two defaults (`legacy`, `modern`) cannot be deleted.
 */
export class BackendStore {
  private readonly stmts;

  constructor(private readonly ctx: StoreContext) {
    const { db } = ctx;
    this.stmts = {
      list: db.prepare<[], BackendRow>('SELECT * FROM backends ORDER BY name'),
      get: db.prepare<[string], BackendRow>('SELECT * FROM backends WHERE name = ?'),
      insert: db.prepare('INSERT INTO backends (name, settings, version, created_at, updated_at) VALUES (@name, @settings, @version, @createdAt, @updatedAt)'),
      update: db.prepare('UPDATE backends SET settings = @settings, version = @version, updated_at = @updatedAt WHERE name = @name'),
      delete: db.prepare<[string]>('DELETE FROM backends WHERE name = ?'),
      usedBy: db.prepare<[string, string], { id: string }>('SELECT id FROM routes WHERE legacy_backend = ? OR modern_backend = ? ORDER BY id'),
      lastVersion: db.prepare<[string], { v: number | null }>('SELECT MAX(version) AS v FROM backend_history WHERE name = ?'),
      history: db.prepare<[string], BackendHistoryRow>('SELECT * FROM backend_history WHERE name = ? ORDER BY version DESC'),
      insertHistory: db.prepare(
        `INSERT INTO backend_history (name, version, action, before, after, actor, reason, at)
         VALUES (@name, @version, @action, @before, @after, @actor, @reason, @at)`,
      ),
    };
  }

  list(): Backend[] {
    return this.stmts.list.all().map(toBackend);
  }

  get(name: string): Backend | undefined {
    const row = this.stmts.get.get(name);
    return row && toBackend(row);
  }

  /** The routes that name `name` as one of their backends. */
  usedBy(name: string): string[] {
    return this.stmts.usedBy.all(name, name).map((r) => r.id);
  }

  history(name: string): BackendHistoryEntry[] {
    const rows = this.stmts.history.all(name);
    if (rows.length === 0) throw backendNotFound(name);
    return rows.map(toBackendHistoryEntry);
  }

  create(input: z.input<typeof BackendCreate>, meta: BackendChangeMeta): Backend {
    return this.ctx.write(() => this.insert(parseOrThrow(BackendCreate, input), meta));
  }

  update(name: string, changes: BackendChanges, meta: BackendChangeMeta): Backend {
    return this.ctx.write(() => this.applyChange(this.current(name, meta), changes, meta));
  }

  delete(name: string, meta: BackendChangeMeta): Backend {
    return this.ctx.write(() => this.remove(this.current(name, meta), meta));
  }

  /**
   * Makes the two default backends exist, with the settings given at start-up (`--legacy`,
   * `--modern`, `--legacy-max-in-flight`, `--modern-max-in-flight`) where those differ from the
   * stored ones; each change has a history row. A default that is neither stored nor given a URL
   * is an error: the gateway would have nowhere to send.
   */
  ensureDefaults(given: Partial<Record<Side, StartupSettings>>, meta: BackendChangeMeta): void {
    this.ctx.write(() => {
      for (const role of ['legacy', 'modern'] as const) {
        const name = DEFAULT_BACKEND_NAMES[role];
        const settings = definedOnly(given[role] ?? {});
        const stored = this.get(name);
        if (stored !== undefined) this.applyChange(stored, settings, meta);
        else if (settings.url !== undefined) this.insert(parseOrThrow(BackendCreate, { name, role, ...settings }), meta);
        else throw missingDefault(role);
      }
    });
  }

  /** Inside the caller's transaction: a new backend and its history row. */
  insert(input: BackendCreate, meta: BackendChangeMeta): Backend {
    if (this.stmts.get.get(input.name)) throw new GatewayError('DUPLICATE_BACKEND', `a backend named "${input.name}" already exists`);
    const settings = newBackendSettings(input);
    const now = this.ctx.timestamp();
    // A re-created name continues its old numbering, so its history stays one sequence.
    const version = (this.stmts.lastVersion.get(input.name)?.v ?? 0) + 1;
    const backend: Backend = { name: input.name, ...settings, version, createdAt: now, updatedAt: now };
    this.stmts.insert.run(toRow(backend));
    this.record('create', null, backend, meta);
    return backend;
  }

  /**
   * Inside the caller's transaction: `changes` as a new version, or nothing when they change
   * nothing. With `checkRole` (the default) a role change of a backend routes use is refused;
   * an apply checks the final state instead, after its routes have moved.
   */
  applyChange(backend: Backend, changes: BackendChanges, meta: BackendChangeMeta, checkRole = true): Backend {
    const settings = changedBackendSettings(backend, changes);
    if (settings === undefined) return backend;
    if (checkRole && settings.role !== backend.role) assertUnused(backend.name, this.usedBy(backend.name), 'role');
    const next: Backend = { ...backend, ...settings, version: backend.version + 1, updatedAt: this.ctx.timestamp() };
    this.stmts.update.run(toRow(next));
    this.record('update', backend, next, meta);
    return next;
  }

  /** Inside the caller's transaction: deletes a backend no route uses. */
  remove(backend: Backend, meta: BackendChangeMeta): Backend {
    assertDeletable(backend.name);
    assertUnused(backend.name, this.usedBy(backend.name), 'delete');
    this.stmts.delete.run(backend.name);
    this.record('delete', backend, null, meta, backend.version + 1);
    return backend;
  }

  /**
   * Refuses a route whose backends do not exist or have the wrong role; `field` names the
   * offending setting so the error says which.
   */
  assertUsable(name: string, role: Side, field: string): void {
    assertUsable(name, role, field, name === DEFAULT_BACKEND_NAMES[role] ? undefined : this.get(name));
  }

  /** The backend as it is now, checked against the caller's expected version. */
  current(name: string, meta: BackendChangeMeta): Backend {
    const backend = this.get(name);
    if (backend === undefined) throw backendNotFound(name);
    assertExpectedVersion('backend', name, backend.version, meta.expectedVersion);
    return backend;
  }

  private record(action: BackendHistoryAction, before: Backend | null, after: Backend | null, meta: BackendChangeMeta, version = after?.version ?? 0): void {
    this.stmts.insertHistory.run({ name: (after ?? before)!.name, ...historyColumns(action, before, after, meta, version, this.ctx.timestamp()) });
  }
}

/** A `backends` row as a Backend, validated. */
export function toBackend(row: BackendRow): Backend {
  return Backend.parse({ name: row.name, ...JSON.parse(row.settings), version: row.version, createdAt: row.created_at, updatedAt: row.updated_at });
}

/** The values of a backend's row. */
export function toRow(backend: Backend): BackendRowValues {
  return { name: backend.name, settings: JSON.stringify(backendSettingsOf(backend)), version: backend.version, createdAt: backend.createdAt, updatedAt: backend.updatedAt };
}

export function toBackendHistoryEntry(row: BackendHistoryRow): BackendHistoryEntry {
  return BackendHistoryEntry.parse({ name: row.name, ...historyFields(row) });
}
