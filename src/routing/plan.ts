import { z } from 'zod';
import { settingsOf, type DesiredRoute } from './route-file.js';
import { BackendPlan } from '../backends/plan.js';
import { FieldChange, diffSettings } from './diff.js';
import { RouteId, RouteSettings, type Route } from './schema.js';

export { FieldChange, diffSettings, leaves } from './diff.js';

const Version = z.number().int().min(1);

/** What applying a route file does to one route. */
export const PlanChange = z.discriminatedUnion('action', [
  z.object({ action: z.literal('create'), id: RouteId, settings: RouteSettings }),
  z.object({ action: z.literal('update'), id: RouteId, version: Version, changes: z.array(FieldChange) }),
  z.object({ action: z.literal('delete'), id: RouteId, version: Version }),
  z.object({ action: z.literal('unchanged'), id: RouteId, version: Version }),
]);
export type PlanChange = z.infer<typeof PlanChange>;

/** What applying a route file does to the routes. */
export const RoutePlan = z.object({
  /** In the order they apply: deletes, updates, creates; unchanged routes last. */
  changes: z.array(PlanChange),
  /** Routes in the table but not in the file, left alone because prune is off. */
  unmanaged: z.array(RouteId),
});
export type RoutePlan = z.infer<typeof RoutePlan>;

const ORDER: Record<PlanChange['action'], number> = { delete: 0, update: 1, create: 2, unchanged: 3 };

/**
 * The changes that turn `current` into `desired`. Pure: the server computes it inside the
 * apply transaction, and the same function shows a route's history as field changes.
 */
export function planChanges(current: readonly Route[], desired: readonly DesiredRoute[], prune: boolean): RoutePlan {
  const existing = new Map(current.map((r) => [r.id, r]));
  const wanted = new Set(desired.map((d) => d.id));
  const changes: PlanChange[] = [];
  for (const { id, settings } of desired) {
    const route = existing.get(id);
    if (route === undefined) {
      changes.push({ action: 'create', id, settings });
      continue;
    }
    const diff = diffSettings(settingsOf(route), settings);
    changes.push(
      diff.length === 0 ? { action: 'unchanged', id, version: route.version } : { action: 'update', id, version: route.version, changes: diff },
    );
  }
  const unmanaged: string[] = [];
  for (const route of current) {
    if (wanted.has(route.id)) continue;
    if (prune) changes.push({ action: 'delete', id: route.id, version: route.version });
    else unmanaged.push(route.id);
  }
  changes.sort((a, b) => ORDER[a.action] - ORDER[b.action]);
  return { changes, unmanaged };
}

/** True when applying the plan would change something. */
export function hasChanges(plan: Pick<Plan, 'changes'> & Partial<Pick<Plan, 'backends'>>): boolean {
  return [...plan.changes, ...(plan.backends?.changes ?? [])].some((c) => c.action !== 'unchanged');
}

/** What applying a route file does: to the backends first, then to the routes. */
export const Plan = RoutePlan.extend({ backends: BackendPlan });
export type Plan = z.infer<typeof Plan>;

/** Changes per action. */
export const PlanCounts = z.object({ create: z.number().int(), update: z.number().int(), delete: z.number().int(), unchanged: z.number().int() });
export type PlanCounts = z.infer<typeof PlanCounts>;

/** The answer lists at most this many route changes; `summary` counts them all. */
export const MAX_LISTED_CHANGES = 10_000;

/**
 * `POST /apply`'s answer: the plan, and whether it was carried out (false for a dry run). A file
 * of a million routes would make an answer of hundreds of megabytes, so past MAX_LISTED_CHANGES
 * the list is cut (`truncated`); `summary` always counts every change.
 */
export const ApplyResult = z.object({
  applied: z.boolean(),
  plan: Plan,
  summary: z.object({ routes: PlanCounts, backends: PlanCounts }),
  truncated: z.boolean(),
});
export type ApplyResult = z.infer<typeof ApplyResult>;

export function applyResult(plan: Plan, applied: boolean): ApplyResult {
  const truncated = plan.changes.length > MAX_LISTED_CHANGES;
  return {
    applied,
    plan: truncated ? { ...plan, changes: plan.changes.slice(0, MAX_LISTED_CHANGES) } : plan,
    summary: { routes: countOf(plan.changes), backends: countOf(plan.backends.changes) },
    truncated,
  };
}

function countOf(changes: readonly { action: keyof PlanCounts }[]): PlanCounts {
  const counts = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const c of changes) counts[c.action]++;
  return counts;
}
