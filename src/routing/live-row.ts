import { DEFAULT_BACKEND_NAMES } from '../backends/schema.js';
import { RolloutPlan } from '../rollout/plan.js';
import type { Stage } from '../rollout/stage.js';
import { DEFAULT_RESILIENCE, DEFAULT_ROUTE_SETTINGS, ResilienceSettings, mergeResilience, type Mode, type ResiliencePatch, type Route } from './schema.js';
import { ShadowSettings } from '../shadow/settings.js';
import { deepFreeze } from './freeze.js';
import type { RouteRow } from './store.js';

/**
 * Turns `routes` rows into the live table's Route objects without a schema parse per row (a
 * million parses is seconds of start-up), and shares what routes have in common: rows with the
 * same resilience document get the same frozen settings object, validated once. The rows were
 * validated when written, and the table's CHECK constraints guard the rest.
 */
export class LiveRowReader {
  private readonly resilience = new Map<string, ResilienceSettings>();
  private readonly shadow = new Map<string, ShadowSettings>();
  private readonly rollout = new Map<string, RolloutPlan>();
  /** Strings most routes share (modes, sticky keys, backend names, timestamps of one bulk apply): one copy each. */
  private readonly strings = new Map<string, string>();

  read(row: RouteRow): Route {
    return {
      id: row.id,
      pathPrefix: row.path_prefix,
      mode: this.shared(row.mode) as Mode,
      canaryPercent: row.canary_percent,
      stickyKey: this.shared(row.sticky_key),
      timeoutMs: row.timeout_ms,
      maxBodyBytes: row.max_body_bytes,
      resilience: this.resilienceOf(row.resilience),
      legacyBackend: this.shared(row.legacy_backend ?? DEFAULT_BACKEND_NAMES.legacy),
      modernBackend: this.shared(row.modern_backend ?? DEFAULT_BACKEND_NAMES.modern),
      shadow: this.shadowOf(row.shadow ?? '{}'),
      stage: this.shared(row.stage ?? row.mode) as Stage,
      retireAfterMs: row.retire_after_ms ?? DEFAULT_ROUTE_SETTINGS.retireAfterMs,
      rollout: row.rollout == null ? null : this.rolloutOf(row.rollout),
      version: row.version,
      createdAt: this.shared(row.created_at),
      updatedAt: this.shared(row.updated_at),
    };
  }

  private shared(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    // Bounded: past it, a fresh start (the strings already in routes stay shared).
    if (this.strings.size >= 10_000) this.strings.clear();
    this.strings.set(value, value);
    return value;
  }

  private rolloutOf(json: string): RolloutPlan {
    return interned(this.rollout, json, () => RolloutPlan.parse(JSON.parse(json)));
  }

  private shadowOf(json: string): ShadowSettings {
    return interned(this.shadow, json, () => ShadowSettings.parse(JSON.parse(json)));
  }

  private resilienceOf(json: string): ResilienceSettings {
    return interned(this.resilience, json, () => ResilienceSettings.parse(mergeResilience(DEFAULT_RESILIENCE, JSON.parse(json) as ResiliencePatch)));
  }
}

/**
 * The frozen settings object for a JSON document, parsed once per distinct document. Bounded:
 * distinct documents are few in practice; a table of all-different ones still reads correctly.
 */
function interned<T extends object>(cache: Map<string, T>, json: string, parse: () => T): T {
  let settings = cache.get(json);
  if (settings === undefined) {
    settings = deepFreeze(parse());
    if (cache.size < 10_000) cache.set(json, settings);
  }
  return settings;
}
