import { GatewayError } from '../errors.js';
import { parseOrThrow } from '../validation.js';
import { assertRetiredServesModernOnly, reconcileStage, withStage } from './lifecycle.js';
import { settingsOf } from './route-file.js';
import { DEFAULT_RESILIENCE, ResilienceSettings, Route, RouteSettings, definedOnly, mergeResilience, type RouteCreate } from './schema.js';
import type { RouteChanges } from './store.js';

/** A route's settings with `changes` applied (resilience and shadow merged field by field), validated. */
export function changedSettings(route: Route, changes: RouteChanges): RouteSettings {
  const settings = parseOrThrow(RouteSettings, {
    ...settingsOf(route),
    ...definedOnly(changes),
    ...reconcileStage(changes.mode, changes.stage, route),
    resilience: mergeResilience(route.resilience, changes.resilience),
    shadow: { ...route.shadow, ...definedOnly(changes.shadow ?? {}) },
  });
  assertRetiredServesModernOnly(settings.stage, settings.resilience);
  return settings;
}

/** A new route's complete settings from its create request: resilience merged over the defaults, mode and stage in step. */
export function createdSettings(input: RouteCreate): RouteSettings {
  const { id: _id, reason: _reason, resilience: patch, mode, stage, ...rest } = input;
  const resilience = parseOrThrow(ResilienceSettings, mergeResilience(DEFAULT_RESILIENCE, patch), 'resilience');
  const settings = { ...rest, ...reconcileStage(mode, stage), resilience };
  assertRetiredServesModernOnly(settings.stage, resilience);
  return settings;
}

export function sameSettings(a: RouteSettings, b: RouteSettings): boolean {
  return (Object.keys(a) as (keyof RouteSettings)[]).every((k) =>
    k === 'resilience' || k === 'shadow' || k === 'rollout' ? JSON.stringify(a[k]) === JSON.stringify(b[k]) : a[k] === b[k],
  );
}

/** The ids a route created without one may take, in order: its prefix as a slug, then -2, -3, ... */
export function* idCandidates(pathPrefix: string): Generator<string> {
  const base =
    pathPrefix
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 56) || 'root';
  for (let n = 1; ; n++) yield n === 1 ? base : `${base}-${n}`;
}

/**
 * The route as it was at `target` (its history row's `after`), or NO_PREVIOUS_VERSION when there
 * is none to go back to. `toVersion` is what the caller asked for (undefined: the version before).
 */
export function rollbackSnapshot(route: Route, target: number, toVersion: number | undefined, after: string | null | undefined): Route {
  const snapshot = after ? Route.parse(withStage(JSON.parse(after) as Record<string, unknown>)) : undefined;
  if (snapshot === undefined || target >= route.version) {
    throw new GatewayError(
      'NO_PREVIOUS_VERSION',
      toVersion === undefined
        ? `route "${route.id}" has no version before ${route.version}`
        : `route "${route.id}" has no version ${toVersion} to roll back to (current is ${route.version})`,
    );
  }
  return snapshot;
}
