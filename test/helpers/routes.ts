import { DEFAULT_RESILIENCE, DEFAULT_ROUTE_SETTINGS, type Route } from '../../src/routing/schema.js';
import { DEFAULT_SHADOW_SETTINGS } from '../../src/shadow/settings.js';

/** A complete Route for pure-logic tests; fields default to a legacy route. */
export function route(pathPrefix: string, fields: Partial<Route> = {}): Route {
  return {
    id: pathPrefix.replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'root',
    pathPrefix,
    mode: 'legacy',
    canaryPercent: 0,
    stickyKey: 'cookie',
    timeoutMs: 30_000,
    maxBodyBytes: null,
    resilience: DEFAULT_RESILIENCE,
    legacyBackend: 'legacy',
    modernBackend: 'modern',
    shadow: DEFAULT_SHADOW_SETTINGS,
    stage: fields.mode ?? 'legacy',
    retireAfterMs: DEFAULT_ROUTE_SETTINGS.retireAfterMs,
    rollout: null,
    version: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...fields,
  } as Route;
}
