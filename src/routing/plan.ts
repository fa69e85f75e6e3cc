import { z } from 'zod';
import { settingsOf, type DesiredRoute } from './route-file.js';
import { RouteId, RouteSettings, type Route } from './schema.js';

/** One setting that differs, by its dotted path (`resilience.breaker.openMs`). */
export const FieldChange = z.object({ field: z.string(), from: z.unknown(), to: z.unknown() });
export type FieldChange = z.infer<typeof FieldChange>;

const Version = z.number().int().min(1);

/** What applying a route file does to one route. */
export const PlanChange = z.discriminatedUnion('action', [
  z.object({ action: z.literal('create'), id: RouteId, settings: RouteSettings }),
  z.object({ action: z.literal('update'), id: RouteId, version: Version, changes: z.array(FieldChange) }),
  z.object({ action: z.literal('delete'), id: RouteId, version: Version }),
  z.object({ action: z.literal('unchanged'), id: RouteId, version: Version }),
]);
export type PlanChange = z.infer<typeof PlanChange>;

export const Plan = z.object({
  /** In the order they apply: deletes, updates, creates; unchanged routes last. */
  changes: z.array(PlanChange),
  /** Routes in the table but not in the file, left alone because prune is off. */
  unmanaged: z.array(RouteId),
});
export type Plan = z.infer<typeof Plan>;

const ORDER: Record<PlanChange['action'], number> = { delete: 0, update: 1, create: 2, unchanged: 3 };

/**
 * The changes that turn `current` into `desired`. Pure: the server computes it inside the
 * apply transaction, and the same function shows a route's history as field changes.
 */
export function planChanges(current: readonly Route[], desired: readonly DesiredRoute[], prune: boolean): Plan {
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
export function hasChanges(plan: Plan): boolean {
  return plan.changes.some((c) => c.action !== 'unchanged');
}

/** Every leaf that differs between two settings objects; arrays compare whole. */
export function diffSettings(before: RouteSettings, after: RouteSettings): FieldChange[] {
  const a = leaves(before);
  const b = leaves(after);
  const fields = [...new Set([...a.keys(), ...b.keys()])];
  return fields
    .filter((field) => JSON.stringify(a.get(field)) !== JSON.stringify(b.get(field)))
    .map((field) => ({ field, from: a.get(field), to: b.get(field) }));
}

/** Every leaf of a nested object by its dotted path, in key order; arrays are leaves. */
export function leaves(value: object, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) leaves(v as object, `${prefix}${key}.`, into);
    else into.set(prefix + key, v);
  }
  return into;
}

/** `POST /apply`'s answer: the plan, and whether it was carried out (false for a dry run). */
export const ApplyResult = z.object({ applied: z.boolean(), plan: Plan });
export type ApplyResult = z.infer<typeof ApplyResult>;
