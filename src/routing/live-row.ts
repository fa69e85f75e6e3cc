import { DEFAULT_BACKEND_NAMES } from '../backends/schema.js';
import { DEFAULT_RESILIENCE, ResilienceSettings, mergeResilience, type Mode, type ResiliencePatch, type Route } from './schema.js';
import type { RouteRow } from './store.js';

/**
 * Turns `routes` rows into the live table's Route objects without a schema parse per row (a
 * million parses is seconds of start-up), and shares what routes have in common: rows with the
 * same resilience document get the same frozen settings object, validated once. The rows were
 * validated when written, and the table's CHECK constraints guard the rest.
 */
export class LiveRowReader {
  private readonly resilience = new Map<string, ResilienceSettings>();

  read(row: RouteRow): Route {
    return {
      id: row.id,
      pathPrefix: row.path_prefix,
      mode: row.mode as Mode,
      canaryPercent: row.canary_percent,
      stickyKey: row.sticky_key,
      timeoutMs: row.timeout_ms,
      maxBodyBytes: row.max_body_bytes,
      resilience: this.resilienceOf(row.resilience),
      legacyBackend: row.legacy_backend ?? DEFAULT_BACKEND_NAMES.legacy,
      modernBackend: row.modern_backend ?? DEFAULT_BACKEND_NAMES.modern,
      version: row.version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  private resilienceOf(json: string): ResilienceSettings {
    let settings = this.resilience.get(json);
    if (settings === undefined) {
      settings = deepFreeze(ResilienceSettings.parse(mergeResilience(DEFAULT_RESILIENCE, JSON.parse(json) as ResiliencePatch)));
      // Bounded: distinct documents are few in practice; a table of all-different ones still reads correctly.
      if (this.resilience.size < 10_000) this.resilience.set(json, settings);
    }
    return settings;
  }
}

function deepFreeze<T extends object>(value: T): T {
  for (const v of Object.values(value)) if (v !== null && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(value);
}
