import { z } from 'zod';
import { BackendSpec } from '../backends/plan.js';
import { parseOrThrow } from '../validation.js';
import { deepFreeze } from './freeze.js';
import { assertRetiredServesModernOnly, reconcileStage } from './lifecycle.js';
import { DEFAULT_RESILIENCE, ResilienceSettings, RouteCreate, RouteId, RouteSettings, mergeResilience, type Route } from './schema.js';

/**
 * A route as a route file declares it: an id plus the same settings `POST /routes` takes. A
 * setting left out means its default, so the file alone says what the route is.
 */
export const RouteSpec = RouteCreate.omit({ reason: true }).extend({ id: RouteId }).strict();
export type RouteSpec = z.infer<typeof RouteSpec>;

/** Ids and prefixes must each be unique across the file; the issue names the later entry. */
const RouteSpecs = z
  .array(RouteSpec)
  .max(2_000_000)
  .superRefine((specs, ctx) => {
    for (const field of ['id', 'pathPrefix'] as const) {
      const first = new Map<string, number>();
      specs.forEach((spec, i) => {
        const seen = first.get(spec[field]);
        if (seen === undefined) first.set(spec[field], i);
        else ctx.addIssue({ code: 'custom', path: [i, field], message: `duplicate ${field} "${spec[field]}" (also routes[${seen}])` });
      });
    }
  });

/** Names must be unique across the file. */
const BackendSpecs = z
  .array(BackendSpec)
  .max(10_000)
  .superRefine((specs, ctx) => {
    const first = new Map<string, number>();
    specs.forEach((spec, i) => {
      const seen = first.get(spec.name);
      if (seen === undefined) first.set(spec.name, i);
      else ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate name "${spec.name}" (also backends[${seen}])` });
    });
  });

/**
 * The document `strangler export` writes and `strangler apply -f` reads (YAML or JSON). Without a
 * `backends` section the backends are left as they are; with one, they are managed like routes.
 */
export const RouteFile = z.object({ backends: BackendSpecs.optional(), routes: RouteSpecs }).strict();
export type RouteFile = z.infer<typeof RouteFile>;

/** `POST /apply`: make the route table match `routes`, in one transaction. */
export const ApplyRequest = RouteFile.extend({
  /** Delete routes the file does not list; without it they are left alone (and reported as unmanaged). */
  prune: z.boolean().default(false),
  /** Compute and return the plan, change nothing. */
  dryRun: z.boolean().default(false),
  reason: RouteCreate.shape.reason,
}).strict();
export type ApplyRequest = z.infer<typeof ApplyRequest>;

/** A desired route: its id and its complete settings. */
export interface DesiredRoute {
  id: string;
  settings: RouteSettings;
}

/**
 * Parses a route file or apply request. Errors name the entry by index and id
 * (`routes[2] (orders).canaryPercent: …`), so a mistake in a long file is easy to find.
 */
export function parseRouteFile<S extends typeof RouteFile | typeof ApplyRequest>(schema: S, input: unknown): z.infer<S> {
  return parseOrThrow(schema as z.ZodType, input, 'body', (path) => labelPath(input, path)) as z.infer<S>;
}

function labelPath(input: unknown, path: readonly PropertyKey[]): string {
  const [top, index, ...rest] = path;
  if ((top !== 'routes' && top !== 'backends') || typeof index !== 'number') return path.map(String).join('.');
  return entryLabel(input, top, index) + rest.map((p) => `.${String(p)}`).join('');
}

/** `routes[2] (orders)` or `backends[0] (orders-svc)`: the entry by index and, when it has a sane one, its key. */
function entryLabel(input: unknown, section: 'routes' | 'backends', index: number): string {
  const entry = (input as Record<string, unknown[] | undefined>)[section]?.[index] as Record<string, unknown> | undefined;
  const key = entry?.[section === 'routes' ? 'id' : 'name'];
  const named = typeof key === 'string' && RouteId.safeParse(key).success ? ` (${key})` : '';
  return `${section}[${index}]${named}`;
}

/**
 * The complete settings a spec declares, defaults filled in. Rules across fields (a breaker's
 * `minimumCalls` above the default `windowSize`, a `hedgePercentile` without `hedgeAfterMs`) are
 * checked here, against the filled-in settings: a VALIDATION_FAILED naming `routes[index] (id).field`.
 */
export function desiredRoute(spec: RouteSpec, index = 0): DesiredRoute {
  const { id, resilience: patch, mode, stage, ...rest } = spec;
  const label = (path: readonly PropertyKey[]) => [`routes[${index}] (${id})`, ...path.map(String)].join('.');
  // A file of a million routes mostly shares a handful of resilience settings: one frozen copy each.
  const key = JSON.stringify(patch ?? {});
  let resilience = resilienceByPatch.get(key);
  if (resilience === undefined) {
    resilience = deepFreeze(parseOrThrow(ResilienceSettings, mergeResilience(DEFAULT_RESILIENCE, patch), 'body', (path) => label(['resilience', ...path])));
    if (resilienceByPatch.size < 1_000) resilienceByPatch.set(key, resilience);
  }
  const settings = parseOrThrow(RouteSettings.omit({ resilience: true }), { ...rest, ...reconcileStage(mode, stage) }, 'body', label);
  assertRetiredServesModernOnly(settings.stage, resilience);
  return { id, settings: { ...settings, resilience } };
}

/** Resilience settings by the patch they were made from. */
const resilienceByPatch = new Map<string, ResilienceSettings>();

/** The operator-controlled settings of a route, by the keys of the RouteSettings schema. */
export function settingsOf(route: Route): RouteSettings {
  return Object.fromEntries(Object.keys(RouteSettings.shape).map((k) => [k, route[k as keyof Route]])) as RouteSettings;
}

/** A route as `strangler export` writes it: id first, then every setting, bookkeeping left out. */
export function specOf(route: Route): RouteSpec {
  return { id: route.id, ...settingsOf(route) };
}
