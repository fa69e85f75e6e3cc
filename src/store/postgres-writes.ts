import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { DesiredBackend } from '../backends/plan.js';
import { assertDeletable, assertUnused, assertUsable, backendNotFound, changedBackendSettings, missingDefault, newBackendSettings } from '../backends/rules.js';
import { BackendCreate, DEFAULT_BACKEND_NAMES, definedOnly as definedBackend, type Backend, type BackendChanges, type Side } from '../backends/schema.js';
import { toBackend, toRow, type BackendChangeMeta, type StartupSettings } from '../backends/store.js';
import { GatewayError } from '../errors.js';
import { changedSettings, createdSettings, idCandidates, rollbackSnapshot, sameSettings } from '../routing/change.js';
import { LiveRowReader } from '../routing/live-row.js';
import type { Plan } from '../routing/plan.js';
import { settingsOf, type DesiredRoute } from '../routing/route-file.js';
import {
  RouteCreate,
  type ChangeMeta,
  type HistoryAction,
  type Route,
  type RouteSettings,
} from '../routing/schema.js';
import { toRoute, type ApplyOptions, type RouteChanges } from '../routing/store.js';
import { parseOrThrow } from '../validation.js';
import { applySteps, assertStepsPrefixFree, planApply } from './apply-steps.js';
import { assertExpectedVersion } from './conflict.js';
import { historyColumns } from './history-row.js';
import { eventOf } from '../outbox/event.js';
import type { PgBulkRoutes } from './postgres-bulk.js';
import type { PgQueries } from './postgres-queries.js';

/**
 * The PostgreSQL store's changes, each run inside one transaction that holds the write lock
 * (postgres-store.ts). The rules are the SQLite store's (routing/store.ts, backends/store.ts),
 * shared where they are pure (routing/change.ts, backends/rules.ts, store/apply-steps.ts).
 */
export class PgWrites {
  constructor(
    private readonly q: PgQueries,
    private readonly timestamp: () => string,
    /** The bulk route writes of an apply, on the transaction's client (absent for reads). */
    private readonly bulk?: PgBulkRoutes,
  ) {}

  async create(raw: z.input<typeof RouteCreate>, meta: ChangeMeta): Promise<Route> {
    const input = parseOrThrow(RouteCreate, raw);
    const id = input.id ?? (await this.freeIdFor(input.pathPrefix));
    if (await this.q.route(id)) throw new GatewayError('DUPLICATE_ID', `a route with id "${id}" already exists`);
    return this.insert(id, createdSettings(input), meta);
  }

  async update(id: string, changes: RouteChanges, meta: ChangeMeta, action: HistoryAction = 'update'): Promise<Route> {
    return this.applyChange(await this.current(id, meta), changes, meta, action);
  }

  async rollback(id: string, toVersion: number | undefined, meta: ChangeMeta): Promise<Route> {
    const route = await this.current(id, meta);
    const target = toVersion ?? route.version - 1;
    const row = target >= 1 ? await this.q.routeHistoryAt(id, target) : undefined;
    const snapshot = rollbackSnapshot(route, target, toVersion, row?.after);
    return this.applyChange(route, settingsOf(snapshot), meta, 'rollback', true);
  }

  async delete(id: string, meta: ChangeMeta): Promise<Route> {
    const route = await this.current(id, meta);
    await this.q.deleteRoute(id);
    await this.recordRoute('delete', route, null, meta, route.version + 1);
    return route;
  }

  /** The plan of applying `desired`, carried out unless `dryRun` (the caller then rolls back). */
  async apply(desired: readonly DesiredRoute[], options: ApplyOptions, meta: ChangeMeta): Promise<Plan> {
    const reader = new LiveRowReader();
    const current = (await this.q.allRoutes()).map((row) => reader.read(row));
    const plan = planApply(current, await this.backendList(), desired, options);
    if (!options.dryRun) await this.carryOut(plan, new Map(current.map((r) => [r.id, r])), desired, options.backends ?? [], meta);
    return plan;
  }

  /** The steps in their order; the route steps (a kind at a time) in bulk, the few backend ones row by row. */
  private async carryOut(plan: Plan, current: Map<string, Route>, desired: readonly DesiredRoute[], backends: readonly DesiredBackend[], meta: ChangeMeta): Promise<void> {
    const steps = applySteps(plan, current, desired, backends);
    assertStepsPrefixFree(steps, current.values());
    const bulk = this.bulk!;
    for (const step of steps) {
      if (step.kind === 'createBackend') await this.insertBackend({ name: step.name, ...step.settings }, meta);
      if (step.kind === 'updateBackend') await this.changeBackend((await this.backend(step.name))!, step.settings, meta, false);
    }
    await bulk.delete(steps.flatMap((s) => (s.kind === 'deleteRoute' ? [s.route] : [])), meta);
    await bulk.park(steps.flatMap((s) => (s.kind === 'parkPrefix' ? [s.route] : [])));
    await bulk.update(steps.flatMap((s) => (s.kind === 'updateRoute' ? [{ route: s.route, settings: s.settings }] : [])), meta);
    await bulk.create(steps.flatMap((s) => (s.kind === 'createRoute' ? [{ id: s.id, settings: s.settings }] : [])), meta);
    for (const step of steps) if (step.kind === 'deleteBackend') await this.removeBackend((await this.backend(step.name))!, meta);
  }

  private async insert(id: string, settings: RouteSettings, meta: ChangeMeta): Promise<Route> {
    await this.assertPrefixFree(settings.pathPrefix, id);
    await this.assertBackendsUsable(settings);
    const now = this.timestamp();
    // A re-created id continues its old numbering, so its history stays one sequence.
    const version = (await this.q.lastRouteVersion(id)) + 1;
    const route: Route = { id, ...settings, version, createdAt: now, updatedAt: now };
    await this.q.insertRoute(route);
    await this.recordRoute('create', null, route, meta);
    return route;
  }

  private async applyChange(route: Route, changes: RouteChanges, meta: ChangeMeta, action: HistoryAction, recordEvenIfSame = false): Promise<Route> {
    const settings = changedSettings(route, changes);
    if (!recordEvenIfSame && sameSettings(settings, settingsOf(route))) return route;
    if (settings.pathPrefix !== route.pathPrefix) await this.assertPrefixFree(settings.pathPrefix, route.id);
    if (settings.legacyBackend !== route.legacyBackend || settings.modernBackend !== route.modernBackend) await this.assertBackendsUsable(settings);
    const next: Route = { ...route, ...settings, version: route.version + 1, updatedAt: this.timestamp() };
    await this.q.updateRoute(next);
    await this.recordRoute(action, route, next, meta);
    return next;
  }

  private async current(id: string, meta: ChangeMeta): Promise<Route> {
    const row = await this.q.route(id);
    if (row === undefined) throw new GatewayError('ROUTE_NOT_FOUND', `no route "${id}"`);
    const route = toRoute(row);
    assertExpectedVersion('route', id, route.version, meta.expectedVersion);
    return route;
  }

  private async assertPrefixFree(pathPrefix: string, id: string): Promise<void> {
    const owner = await this.q.routeByPrefix(pathPrefix);
    if (owner && owner.id !== id) throw new GatewayError('DUPLICATE_PATH', `route "${owner.id}" already has path prefix ${pathPrefix}`);
  }

  private async assertBackendsUsable(settings: RouteSettings): Promise<void> {
    for (const [role, name, field] of [['legacy', settings.legacyBackend, 'legacyBackend'], ['modern', settings.modernBackend, 'modernBackend']] as const) {
      assertUsable(name, role, field, name === DEFAULT_BACKEND_NAMES[role] ? undefined : await this.backend(name));
    }
  }

  private async freeIdFor(pathPrefix: string): Promise<string> {
    for (const id of idCandidates(pathPrefix)) if (!(await this.q.route(id))) return id;
    throw new Error('unreachable: the candidates never end');
  }

  /** The history row, and the change's event (outbox/event.ts) when it moves a stage. */
  private async recordRoute(action: HistoryAction, before: Route | null, after: Route | null, meta: ChangeMeta, version = after?.version ?? 0): Promise<void> {
    const at = this.timestamp();
    await this.q.insertRouteHistory((after ?? before)!.id, historyColumns(action, before, after, meta, version, at));
    const event = eventOf(action, before, after, meta, { id: randomUUID(), at, version });
    if (event !== undefined) await this.q.insertEvents([event], Date.parse(at));
  }

  // Backends.

  async backendList(): Promise<Backend[]> {
    return (await this.q.backends()).map(toBackend);
  }

  async backend(name: string): Promise<Backend | undefined> {
    const row = await this.q.backend(name);
    return row && toBackend(row);
  }

  async createBackend(input: z.input<typeof BackendCreate>, meta: BackendChangeMeta): Promise<Backend> {
    return this.insertBackend(parseOrThrow(BackendCreate, input), meta);
  }

  async updateBackend(name: string, changes: BackendChanges, meta: BackendChangeMeta): Promise<Backend> {
    return this.changeBackend(await this.currentBackend(name, meta), changes, meta);
  }

  async deleteBackend(name: string, meta: BackendChangeMeta): Promise<Backend> {
    return this.removeBackend(await this.currentBackend(name, meta), meta);
  }

  /** As BackendStore.ensureDefaults: the start-up flags' settings for the two default backends. */
  async ensureDefaults(given: Partial<Record<Side, StartupSettings>>, meta: BackendChangeMeta): Promise<void> {
    for (const role of ['legacy', 'modern'] as const) {
      const name = DEFAULT_BACKEND_NAMES[role];
      const settings = definedBackend(given[role] ?? {});
      const stored = await this.backend(name);
      if (stored !== undefined) await this.changeBackend(stored, settings, meta);
      else if (settings.url !== undefined) await this.insertBackend(parseOrThrow(BackendCreate, { name, role, ...settings }), meta);
      else throw missingDefault(role);
    }
  }

  private async insertBackend(input: BackendCreate, meta: BackendChangeMeta): Promise<Backend> {
    if (await this.q.backend(input.name)) throw new GatewayError('DUPLICATE_BACKEND', `a backend named "${input.name}" already exists`);
    const settings = newBackendSettings(input);
    const now = this.timestamp();
    const version = (await this.q.lastBackendVersion(input.name)) + 1;
    const backend: Backend = { name: input.name, ...settings, version, createdAt: now, updatedAt: now };
    await this.q.insertBackend(toRow(backend));
    await this.recordBackend('create', null, backend, meta);
    return backend;
  }

  private async changeBackend(backend: Backend, changes: BackendChanges, meta: BackendChangeMeta, checkRole = true): Promise<Backend> {
    const settings = changedBackendSettings(backend, changes);
    if (settings === undefined) return backend;
    if (checkRole && settings.role !== backend.role) assertUnused(backend.name, await this.q.usedBy(backend.name), 'role');
    const next: Backend = { ...backend, ...settings, version: backend.version + 1, updatedAt: this.timestamp() };
    await this.q.updateBackend(toRow(next));
    await this.recordBackend('update', backend, next, meta);
    return next;
  }

  private async removeBackend(backend: Backend, meta: BackendChangeMeta): Promise<Backend> {
    assertDeletable(backend.name);
    assertUnused(backend.name, await this.q.usedBy(backend.name), 'delete');
    await this.q.deleteBackend(backend.name);
    await this.recordBackend('delete', backend, null, meta, backend.version + 1);
    return backend;
  }

  private async currentBackend(name: string, meta: BackendChangeMeta): Promise<Backend> {
    const backend = await this.backend(name);
    if (backend === undefined) throw backendNotFound(name);
    assertExpectedVersion('backend', name, backend.version, meta.expectedVersion);
    return backend;
  }

  private recordBackend(action: 'create' | 'update' | 'delete', before: Backend | null, after: Backend | null, meta: BackendChangeMeta, version = after?.version ?? 0) {
    return this.q.insertBackendHistory((after ?? before)!.name, historyColumns(action, before, after, meta, version, this.timestamp()));
  }
}
