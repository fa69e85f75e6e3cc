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

/** `POST /apply`'s answer: the plan, and whether it was carried out (false for a dry run). */
export const ApplyResult = z.object({ applied: z.boolean(), plan: Plan });
export type ApplyResult = z.infer<typeof ApplyResult>;
