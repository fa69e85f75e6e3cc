import { z } from 'zod';
import { BackendName, DEFAULT_BACKEND_NAMES, Side, definedOnly } from '../backends/schema.js';
import { DEFAULT_BREAKER_OPTIONS } from '../resilience/breaker.js';
import { DEFAULT_SHADOW_SETTINGS, ShadowPatch, ShadowSettings } from '../shadow/settings.js';
import { RolloutPlan } from '../rollout/plan.js';
import { DEFAULT_RETIRE_AFTER_MS, Stage } from '../rollout/stage.js';
import { isCanonicalPrefix } from './path.js';

export { definedOnly, Side };

/**
 * Where a route sends its traffic: all to legacy, a sticky share to modern, or all to modern;
 * `shadow` answers from legacy and copies requests to modern in the background to compare.
 */
export const Mode = z.enum(['legacy', 'canary', 'modern', 'shadow']);
export type Mode = z.infer<typeof Mode>;

export const RouteId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 characters of a-z, 0-9, "-" or "_", starting with a letter or digit');

export const PathPrefix = z
  .string()
  .max(1024)
  .refine(isCanonicalPrefix, {
    message:
      'must be a normalised absolute path: starts with "/", no trailing "/", no "//", "." or ".." segments, no "%", ";", "?" or "#"',
  });

/**
 * How a canary buckets requests: `cookie` (a gateway-issued cookie) or `header:<name>`
 * (a header the client already sends, e.g. `header:x-user-id`). Header names are lower case.
 */
export const StickyKey = z
  .string()
  .regex(/^(cookie|header:[a-z0-9!#$%&'*+.^_`|~-]{1,128})$/, 'must be "cookie" or "header:<lower-case header name>"');

export const DEFAULT_ROUTE_SETTINGS = {
  mode: 'legacy',
  canaryPercent: 0,
  stickyKey: 'cookie',
  timeoutMs: 30_000, // 30 s: long enough for a slow monolith page, short enough to free a socket
  maxBodyBytes: null, // the gateway's --max-body-bytes
  legacyBackend: DEFAULT_BACKEND_NAMES.legacy,
  modernBackend: DEFAULT_BACKEND_NAMES.modern,
  retireAfterMs: DEFAULT_RETIRE_AFTER_MS,
  rollout: null,
} as const;

/** How long a route must serve from `modern` before it may retire (rollout/stage.ts). */
export const RetireAfterMs = z.number().int().min(1).max(10 * 365 * 86_400_000);

/** The route's saved rollout plan (defaults filled in); null for none. */
export const SavedRolloutPlan = RolloutPlan.nullable();

/** A route's request body limit in bytes; null means the gateway's `--max-body-bytes`. */
export const MaxBodyBytes = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable();

/** The modern side's circuit breaker; see resilience/breaker.ts for the state machine. */
export const BreakerSettings = z
  .object({
    failureRatePercent: z.number().int().min(1).max(100),
    windowSize: z.number().int().min(1).max(1000),
    minimumCalls: z.number().int().min(1).max(1000),
    openMs: z.number().int().min(1).max(3_600_000),
    halfOpenProbes: z.number().int().min(1).max(100),
    slowCallMs: z.number().int().min(1).max(600_000).nullable(),
    /** Whether a 5xx answer counts as a failure (connection errors and timeouts always do). */
    countServerErrors: z.boolean(),
  })
  .strict()
  .refine((b) => b.minimumCalls <= b.windowSize, { path: ['minimumCalls'], message: 'must not exceed windowSize' });
export type BreakerSettings = z.infer<typeof BreakerSettings>;

/** The breaker's own defaults (reasons in resilience/breaker.ts), plus how 5xx answers count. */
export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = { ...DEFAULT_BREAKER_OPTIONS, countServerErrors: true };

/**
 * The backend pools' connect timeout. A route may shorten it (its own timer aborts the attempt
 * before the pool's fires), never lengthen it: 5 s to accept a connection already means down.
 */
export const MAX_CONNECT_TIMEOUT_MS = 5_000;

const HedgeAfterMs = z.number().int().min(1).max(600_000).nullable();
const HedgePercentile = z.number().int().min(50).max(99).nullable();

/** What happens when the modern side fails or is slow: retries, fallback and hedging to legacy, the overall deadline. */
export const ResilienceSettings = z
  .object({
    /** Extra tries on the same backend for transient failures (connection errors, timeouts, 502/503/504, 429). */
    retries: z.number().int().min(0).max(5),
    /** Replay to legacy when modern fails or its breaker is open, where replay is safe. */
    fallback: z.boolean(),
    /** Modern answers to a safe method that mean "not ported yet": served from legacy instead. */
    fallthroughStatuses: z.array(z.number().int().min(400).max(599)).max(20),
    /** The whole request, retries and fallback included, must finish within this. */
    deadlineMs: z.number().int().min(1).max(600_000),
    /** Time to open a connection to the backend; a miss is a connect error, safe to fall back from. */
    // Defaulted so routes stored before this setting existed still read.
    connectTimeoutMs: z.number().int().min(1).max(MAX_CONNECT_TIMEOUT_MS).default(MAX_CONNECT_TIMEOUT_MS),
    /**
     * Hedging: a replay-safe request to modern that has not started answering after this many ms
     * is also sent to legacy, and the first answer wins; null is off. With `hedgePercentile` it is
     * the cap of the delay. Defaulted (null) so routes stored before hedging existed still read.
     */
    hedgeAfterMs: HedgeAfterMs.default(null),
    /**
     * Hedge after this percentile (50–99) of modern's own try latency on the route over the status
     * window, at least 10 ms and at most `hedgeAfterMs`, which it requires; null is a fixed delay.
     */
    hedgePercentile: HedgePercentile.default(null),
    breaker: BreakerSettings,
  })
  .strict()
  .refine((r) => r.hedgePercentile === null || r.hedgeAfterMs !== null, {
    path: ['hedgePercentile'],
    message: 'needs resilience.hedgeAfterMs, the longest the hedge may wait',
  });
export type ResilienceSettings = z.infer<typeof ResilienceSettings>;

export const DEFAULT_RESILIENCE: ResilienceSettings = {
  retries: 1, // one retry absorbs a blip; more multiplies load on a struggling backend
  fallback: true,
  fallthroughStatuses: [],
  deadlineMs: 60_000,
  connectTimeoutMs: MAX_CONNECT_TIMEOUT_MS,
  hedgeAfterMs: null, // off: a hedge doubles the load on legacy for every slow request; turn it on per route
  hedgePercentile: null,
  breaker: DEFAULT_BREAKER_SETTINGS,
};

/** A partial change to the resilience settings; nested breaker fields merge too. */
export const ResiliencePatch = z
  .object({
    retries: ResilienceSettings.shape.retries.optional(),
    fallback: ResilienceSettings.shape.fallback.optional(),
    fallthroughStatuses: ResilienceSettings.shape.fallthroughStatuses.optional(),
    deadlineMs: ResilienceSettings.shape.deadlineMs.optional(),
    connectTimeoutMs: z.number().int().min(1).max(MAX_CONNECT_TIMEOUT_MS).optional(),
    hedgeAfterMs: HedgeAfterMs.optional(),
    hedgePercentile: HedgePercentile.optional(),
    breaker: z
      .object({
        failureRatePercent: z.number().int().min(1).max(100).optional(),
        windowSize: z.number().int().min(1).max(1000).optional(),
        minimumCalls: z.number().int().min(1).max(1000).optional(),
        openMs: z.number().int().min(1).max(3_600_000).optional(),
        halfOpenProbes: z.number().int().min(1).max(100).optional(),
        slowCallMs: z.number().int().min(1).max(600_000).nullable().optional(),
        countServerErrors: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ResiliencePatch = z.infer<typeof ResiliencePatch>;

/** Applies a partial change over full settings; the result is validated again by the caller. */
export function mergeResilience(base: ResilienceSettings, patch: ResiliencePatch | undefined): unknown {
  if (patch === undefined) return base;
  const { breaker, ...rest } = patch;
  return { ...base, ...definedOnly(rest), breaker: { ...base.breaker, ...definedOnly(breaker ?? {}) } };
}

/** The settings an operator controls; everything else about a route is bookkeeping. */
export const RouteSettings = z.object({
  pathPrefix: PathPrefix,
  mode: Mode,
  canaryPercent: z.number().int().min(0).max(100),
  stickyKey: StickyKey,
  timeoutMs: z.number().int().min(1).max(600_000),
  maxBodyBytes: MaxBodyBytes,
  resilience: ResilienceSettings,
  /** The named backend (role `legacy`) that serves the route's legacy side. */
  legacyBackend: BackendName,
  /** The named backend (role `modern`) that serves its modern side. */
  modernBackend: BackendName,
  /** How shadow mode copies and compares (see shadow/settings.ts); kept in every mode. */
  shadow: ShadowSettings,
  /** Where the route is in its migration; `mode` follows from it (rollout/stage.ts). */
  stage: Stage,
  retireAfterMs: RetireAfterMs,
  rollout: SavedRolloutPlan,
});
export type RouteSettings = z.infer<typeof RouteSettings>;

export const Route = RouteSettings.extend({
  // History rows written before resilience settings existed read as the defaults.
  resilience: ResilienceSettings.default(DEFAULT_RESILIENCE),
  // ... and those written before body limits existed, as the gateway default.
  maxBodyBytes: MaxBodyBytes.default(DEFAULT_ROUTE_SETTINGS.maxBodyBytes),
  // ... and those written before named backends existed, as the two defaults.
  legacyBackend: BackendName.default(DEFAULT_ROUTE_SETTINGS.legacyBackend),
  modernBackend: BackendName.default(DEFAULT_ROUTE_SETTINGS.modernBackend),
  // ... and those written before shadow mode existed, as its defaults.
  shadow: ShadowSettings.default(DEFAULT_SHADOW_SETTINGS),
  // ... and those written before the lifecycle existed: their stage is filled from their mode
  // where they are read (routing/lifecycle.ts), these are the rest.
  retireAfterMs: RetireAfterMs.default(DEFAULT_ROUTE_SETTINGS.retireAfterMs),
  rollout: SavedRolloutPlan.default(null),
  id: RouteId,
  version: z.number().int().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Route = z.infer<typeof Route>;

const Reason = z.string().max(1000);
const Version = z.number().int().min(1);

export const RouteCreate = z
  .object({
    id: RouteId.optional(),
    pathPrefix: PathPrefix,
    /** Defaults to the stage's mode, or `legacy`. */
    mode: Mode.optional(),
    /** Defaults to the mode; a route may be created at any stage. */
    stage: Stage.optional(),
    retireAfterMs: RetireAfterMs.default(DEFAULT_ROUTE_SETTINGS.retireAfterMs),
    rollout: SavedRolloutPlan.default(null),
    canaryPercent: RouteSettings.shape.canaryPercent.default(DEFAULT_ROUTE_SETTINGS.canaryPercent),
    stickyKey: StickyKey.default(DEFAULT_ROUTE_SETTINGS.stickyKey),
    timeoutMs: RouteSettings.shape.timeoutMs.default(DEFAULT_ROUTE_SETTINGS.timeoutMs),
    maxBodyBytes: MaxBodyBytes.default(DEFAULT_ROUTE_SETTINGS.maxBodyBytes),
    resilience: ResiliencePatch.optional(),
    legacyBackend: BackendName.default(DEFAULT_ROUTE_SETTINGS.legacyBackend),
    modernBackend: BackendName.default(DEFAULT_ROUTE_SETTINGS.modernBackend),
    shadow: ShadowSettings.default(DEFAULT_SHADOW_SETTINGS),
    reason: Reason.optional(),
  })
  .strict();
export type RouteCreate = z.infer<typeof RouteCreate>;

/** `stage` is not patched: it moves through POST /routes/:id/stage, where its rules are checked. */
export const RoutePatch = RouteSettings.omit({ resilience: true, shadow: true, stage: true })
  .partial()
  .extend({ resilience: ResiliencePatch.optional(), shadow: ShadowPatch.optional(), version: Version.optional(), reason: Reason.optional() })
  .strict();
export type RoutePatch = z.infer<typeof RoutePatch>;

export const RouteFlip = z
  .object({ to: Side, version: Version.optional(), reason: Reason.optional() })
  .strict();
export type RouteFlip = z.infer<typeof RouteFlip>;

export const RouteRollback = z
  .object({ toVersion: Version.optional(), version: Version.optional(), reason: Reason.optional() })
  .strict();
export type RouteRollback = z.infer<typeof RouteRollback>;

export const RouteDelete = z.object({ version: Version.optional(), reason: Reason.optional() }).strict();
export type RouteDelete = z.infer<typeof RouteDelete>;

export const RouteStageMove = z
  .object({ stage: Stage, force: z.boolean().default(false), version: Version.optional(), reason: Reason.optional() })
  .strict();
export type RouteStageMove = z.infer<typeof RouteStageMove>;

export const HistoryAction = z.enum(['create', 'update', 'flip', 'rollback', 'delete', 'stage', 'rollout']);
export type HistoryAction = z.infer<typeof HistoryAction>;

export const HistoryEntry = z.object({
  routeId: RouteId,
  version: z.number().int(),
  action: HistoryAction,
  before: Route.nullable(),
  after: Route.nullable(),
  actor: z.string(),
  reason: z.string().nullable(),
  at: z.string(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** Who made a change and why; stored with every history row. */
export interface ChangeMeta {
  actor: string;
  reason?: string | undefined;
  /** Optimistic concurrency: the change applies only if the route is still at this version. */
  expectedVersion?: number | undefined;
}
