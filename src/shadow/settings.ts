import { z } from 'zod';
import { parsePath } from './json-path.js';

const ShadowPath = z.string().max(256).refine((p) => parsePath(p) !== undefined, {
  message: 'must be a path such as "$.meta.requestId" or "$.items[*].updatedAt"',
});
const Paths = z.array(ShadowPath).max(100);
const Method = z.string().regex(/^[A-Z]{1,16}$/, 'must be an upper-case HTTP method such as "GET" or "PUT"');
const HeaderName = z.string().regex(/^[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/, 'must be a lower-case header name');

/** What a shadow route's settings default to; the reasons are beside each field of ShadowSettings. */
export const DEFAULT_SHADOW = {
  samplePercent: 100,
  methods: ['GET', 'HEAD', 'OPTIONS'],
  maxInFlight: 32,
  compareHeaders: [],
  unorderedPaths: [],
  ignorePaths: [],
  noisePercent: 5,
  redactPaths: [],
} as const;

const fields = {
  /** Share of the route's requests copied to modern (100: every one; a busy route may want less). */
  samplePercent: z.number().int().min(0).max(100),
  /**
   * Methods that may be copied. GET, HEAD and OPTIONS by default; others only when listed, and
   * POST and PATCH only with an Idempotency-Key: modern must treat shadow writes as its own concern.
   */
  methods: z.array(Method).min(1).max(16),
  /** Copies in flight to modern for this route at once; past it a copy is skipped (counted), never queued. */
  maxInFlight: z.number().int().min(1).max(10_000),
  /** Headers compared besides content-type, location and cache-control. */
  compareHeaders: z.array(HeaderName).max(32),
  /** JSON arrays compared as sets (order ignored). */
  unorderedPaths: Paths,
  /** JSON places never compared: known noise (ids, timestamps). */
  ignorePaths: Paths,
  /** Share of safe (GET, HEAD) copied requests also asked of legacy twice, to learn noise. */
  noisePercent: z.number().int().min(0).max(100),
  /** JSON places whose values never reach samples or logs. */
  redactPaths: Paths,
};

/** A shadow route's comparison settings; every field defaulted, so `{}` is a full setting. */
export const ShadowSettings = z
  .object({
    samplePercent: fields.samplePercent.default(DEFAULT_SHADOW.samplePercent),
    methods: fields.methods.default([...DEFAULT_SHADOW.methods]),
    maxInFlight: fields.maxInFlight.default(DEFAULT_SHADOW.maxInFlight),
    compareHeaders: fields.compareHeaders.default([]),
    unorderedPaths: fields.unorderedPaths.default([]),
    ignorePaths: fields.ignorePaths.default([]),
    noisePercent: fields.noisePercent.default(DEFAULT_SHADOW.noisePercent),
    redactPaths: fields.redactPaths.default([]),
  })
  .strict();
export type ShadowSettings = z.infer<typeof ShadowSettings>;

/** A partial change to the shadow settings: given fields replace, the others stay. */
export const ShadowPatch = z
  .object(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.optional()])) as { [K in keyof typeof fields]: z.ZodOptional<(typeof fields)[K]> })
  .strict();
export type ShadowPatch = z.infer<typeof ShadowPatch>;

export const DEFAULT_SHADOW_SETTINGS: ShadowSettings = ShadowSettings.parse({});
