import { GatewayError } from '../errors.js';
import { NO_BACKEND_CHANGES, planBackendChanges, type DesiredBackend } from '../backends/plan.js';
import type { Backend, BackendSettings } from '../backends/schema.js';
import { assertFinalBackendsUsable, assertFinalPrefixesFree } from '../routing/apply-checks.js';
import { planChanges, type Plan } from '../routing/plan.js';
import type { DesiredRoute } from '../routing/route-file.js';
import type { Route, RouteSettings } from '../routing/schema.js';
import type { ApplyOptions } from '../routing/store.js';

/**
 * What applying `desired` to the table as it is (`current`, `currentBackends`, read in the apply's
 * transaction) does, checked against the final table: a clash or an unusable backend throws.
 */
export function planApply(current: readonly Route[], currentBackends: readonly Backend[], desired: readonly DesiredRoute[], options: ApplyOptions): Plan {
  const routes = planChanges(current, desired, options.prune);
  const backends = options.backends === undefined ? NO_BACKEND_CHANGES : planBackendChanges(currentBackends, options.backends, options.prune);
  const plan: Plan = { ...routes, backends };
  assertFinalPrefixesFree(current, desired, plan);
  assertFinalBackendsUsable(current, desired, plan, currentBackends, options.backends ?? []);
  return plan;
}

/** One write of an apply, in the order every engine carries them out. */
export type ApplyStep =
  | { kind: 'createBackend'; name: string; settings: BackendSettings }
  /** Roles were checked against the final table; the routes move later in the same apply. */
  | { kind: 'updateBackend'; name: string; settings: BackendSettings }
  | { kind: 'deleteRoute'; route: Route }
  /** A route whose prefix moves is parked on a placeholder first, so a swap never breaks UNIQUE. */
  | { kind: 'parkPrefix'; route: Route }
  | { kind: 'updateRoute'; route: Route; settings: RouteSettings }
  | { kind: 'createRoute'; id: string; settings: RouteSettings }
  | { kind: 'deleteBackend'; name: string };

/** The prefix a moving route holds while the apply runs: never a valid path prefix. */
export function parkedPrefix(id: string): string {
  return `#moving:${id}`;
}

/**
 * The writes that carry out `plan`: backends created and changed first (so routes can name
 * them), then route deletes, prefix moves parked, updates, creates, and backends deleted last
 * (once no route names them). The file was checked for clashes against the final table.
 */
export function applySteps(plan: Plan, current: ReadonlyMap<string, Route>, desired: readonly DesiredRoute[], backends: readonly DesiredBackend[]): ApplyStep[] {
  const steps: ApplyStep[] = [];
  const backendSettings = new Map(backends.map((b) => [b.name, b.settings]));
  for (const change of plan.backends.changes) {
    if (change.action === 'create') steps.push({ kind: 'createBackend', name: change.name, settings: change.settings });
    if (change.action === 'update') steps.push({ kind: 'updateBackend', name: change.name, settings: backendSettings.get(change.name)! });
  }
  const settings = new Map(desired.map((d) => [d.id, d.settings]));
  const updates = plan.changes.filter((c) => c.action === 'update').map((c) => current.get(c.id)!);
  for (const change of plan.changes) if (change.action === 'delete') steps.push({ kind: 'deleteRoute', route: current.get(change.id)! });
  for (const route of updates) if (settings.get(route.id)!.pathPrefix !== route.pathPrefix) steps.push({ kind: 'parkPrefix', route });
  for (const route of updates) steps.push({ kind: 'updateRoute', route, settings: settings.get(route.id)! });
  for (const change of plan.changes) if (change.action === 'create') steps.push({ kind: 'createRoute', id: change.id, settings: change.settings });
  for (const change of plan.backends.changes) if (change.action === 'delete') steps.push({ kind: 'deleteBackend', name: change.name });
  return steps;
}

/**
 * The prefix checks a row-by-row apply makes as it goes (each update and create against the table
 * as the earlier steps left it), made up front for an engine that writes in bulk: the same first
 * clash, with the same error, before anything is written.
 */
export function assertStepsPrefixFree(steps: readonly ApplyStep[], current: Iterable<Route>): void {
  const owners = new Map<string, string>();
  for (const route of current) owners.set(route.pathPrefix, route.id);
  const take = (id: string, pathPrefix: string) => {
    const owner = owners.get(pathPrefix);
    if (owner !== undefined && owner !== id) throw new GatewayError('DUPLICATE_PATH', `route "${owner}" already has path prefix ${pathPrefix}`);
    owners.set(pathPrefix, id);
  };
  for (const step of steps) {
    if (step.kind === 'deleteRoute') owners.delete(step.route.pathPrefix);
    if (step.kind === 'parkPrefix') {
      owners.delete(step.route.pathPrefix);
      owners.set(parkedPrefix(step.route.id), step.route.id);
    }
    if (step.kind === 'updateRoute' && step.settings.pathPrefix !== step.route.pathPrefix) {
      owners.delete(parkedPrefix(step.route.id));
      take(step.route.id, step.settings.pathPrefix);
    }
    if (step.kind === 'createRoute') take(step.id, step.settings.pathPrefix);
  }
}
