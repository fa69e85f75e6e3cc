import { z } from 'zod';
import { isCanonicalPrefix } from './path.js';

/** Where a route sends its traffic: all to legacy, a sticky share to modern, or all to modern. */
export const Mode = z.enum(['legacy', 'canary', 'modern']);
export type Mode = z.infer<typeof Mode>;

export const Backend = z.enum(['legacy', 'modern']);
export type Backend = z.infer<typeof Backend>;

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
} as const;

/** The settings an operator controls; everything else about a route is bookkeeping. */
export const RouteSettings = z.object({
  pathPrefix: PathPrefix,
  mode: Mode,
  canaryPercent: z.number().int().min(0).max(100),
  stickyKey: StickyKey,
  timeoutMs: z.number().int().min(1).max(600_000),
});
export type RouteSettings = z.infer<typeof RouteSettings>;

export const Route = RouteSettings.extend({
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
    mode: Mode.default(DEFAULT_ROUTE_SETTINGS.mode),
    canaryPercent: RouteSettings.shape.canaryPercent.default(DEFAULT_ROUTE_SETTINGS.canaryPercent),
    stickyKey: StickyKey.default(DEFAULT_ROUTE_SETTINGS.stickyKey),
    timeoutMs: RouteSettings.shape.timeoutMs.default(DEFAULT_ROUTE_SETTINGS.timeoutMs),
    reason: Reason.optional(),
  })
  .strict();
export type RouteCreate = z.infer<typeof RouteCreate>;

export const RoutePatch = RouteSettings.partial()
  .extend({ version: Version.optional(), reason: Reason.optional() })
  .strict();
export type RoutePatch = z.infer<typeof RoutePatch>;

export const RouteFlip = z
  .object({ to: Backend, version: Version.optional(), reason: Reason.optional() })
  .strict();
export type RouteFlip = z.infer<typeof RouteFlip>;

export const RouteRollback = z
  .object({ toVersion: Version.optional(), version: Version.optional(), reason: Reason.optional() })
  .strict();
export type RouteRollback = z.infer<typeof RouteRollback>;

export const RouteDelete = z.object({ version: Version.optional(), reason: Reason.optional() }).strict();
export type RouteDelete = z.infer<typeof RouteDelete>;

export const HistoryAction = z.enum(['create', 'update', 'flip', 'rollback', 'delete']);
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
