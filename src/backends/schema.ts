import { z } from 'zod';

/** Which half of a migration a backend serves: the monolith, or a service that replaces part of it. */
export const Side = z.enum(['legacy', 'modern']);
export type Side = z.infer<typeof Side>;

export const BackendName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 characters of a-z, 0-9, "-" or "_", starting with a letter or digit');

/** The two backends every gateway has; routes use them unless they name others. */
export const DEFAULT_BACKEND_NAMES: Readonly<Record<Side, string>> = { legacy: 'legacy', modern: 'modern' };

export const BackendUrl = z
  .string()
  .max(2048)
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'must be an http:// or https:// URL')
  .refine((v) => !URL.canParse(v) || (new URL(v).search === '' && new URL(v).hash === ''), 'must not have a query or fragment')
  .refine((v) => !URL.canParse(v) || (new URL(v).username === '' && new URL(v).password === ''), 'must not carry credentials');

/** How many retries the backend may receive on top of its requests; see resilience/retry-budget.ts. */
export const RetryBudgetSettings = z
  .object({
    /** Retries may add at most this share (in percent) to the requests of the last 10 s. */
    percent: z.number().min(0).max(100),
    /** Plus this many retries per second, so a quiet backend can still retry. */
    minPerSecond: z.number().min(0).max(10_000),
  })
  .strict();
export type RetryBudgetSettings = z.infer<typeof RetryBudgetSettings>;

/**
 * The `Host` a backend receives: the client's (`client`, the default, as Envoy, Traefik and
 * HAProxy do, so the absolute URLs an application builds name the site the client asked for),
 * or the backend's own authority (`backend`, for a service behind a virtual-host router that
 * needs its own name). `X-Forwarded-Host` carries the client's either way.
 */
export const HostHeaderMode = z.enum(['client', 'backend']);
export type HostHeaderMode = z.infer<typeof HostHeaderMode>;

/** The pools give up on a connect after this long whatever a route says; a route may only shorten it. */
export const MAX_BACKEND_CONNECT_TIMEOUT_MS = 60_000;

/** The settings an operator controls; one set per named backend (its pool, bulkhead and budget). */
export const BackendSettings = z
  .object({
    url: BackendUrl,
    role: Side,
    /** Requests in flight at once (the bulkhead); past it, legacy answers a fast 503 and modern falls back. */
    maxInFlight: z.number().int().min(1).max(100_000),
    /** Time for the backend to accept a connection. */
    connectTimeoutMs: z.number().int().min(1).max(MAX_BACKEND_CONNECT_TIMEOUT_MS),
    /** Sockets the pool may open; null means one per request in flight (`maxInFlight`). */
    connections: z.number().int().min(1).max(100_000).nullable(),
    retryBudget: RetryBudgetSettings,
    // Defaulted so backends stored before this setting existed still read.
    hostHeader: HostHeaderMode.default('client'),
  })
  .strict();
export type BackendSettings = z.infer<typeof BackendSettings>;

export const DEFAULT_BACKEND_SETTINGS = {
  maxInFlight: 256, // enough for a busy monolith, bounded so a slow service cannot take every socket
  connectTimeoutMs: 5_000, // 5 s to accept a connection already means down
  connections: null, // one socket per request in flight: the bulkhead is the real bound
  retryBudget: { percent: 20, minPerSecond: 5 }, // Finagle's defaults
  hostHeader: 'client', // the application sees the Host its clients asked for
} as const satisfies Omit<BackendSettings, 'url' | 'role'>;

export const Backend = BackendSettings.extend({
  name: BackendName,
  version: z.number().int().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Backend = z.infer<typeof Backend>;

const Reason = z.string().max(1000);
const Version = z.number().int().min(1);

const RetryBudgetPatch = RetryBudgetSettings.partial().strict();

export const BackendCreate = z
  .object({
    name: BackendName,
    url: BackendUrl,
    /** Default: `legacy` for the backend named legacy, else `modern`. */
    role: Side.optional(),
    maxInFlight: BackendSettings.shape.maxInFlight.default(DEFAULT_BACKEND_SETTINGS.maxInFlight),
    connectTimeoutMs: BackendSettings.shape.connectTimeoutMs.default(DEFAULT_BACKEND_SETTINGS.connectTimeoutMs),
    connections: BackendSettings.shape.connections.default(DEFAULT_BACKEND_SETTINGS.connections),
    retryBudget: RetryBudgetPatch.optional(),
    hostHeader: HostHeaderMode.default(DEFAULT_BACKEND_SETTINGS.hostHeader),
    reason: Reason.optional(),
  })
  .strict();
export type BackendCreate = z.infer<typeof BackendCreate>;

// hostHeader is spelled out: a default there would reset it on every change that leaves it out.
export const BackendPatch = BackendSettings.omit({ retryBudget: true, hostHeader: true })
  .partial()
  .extend({ hostHeader: HostHeaderMode.optional(), retryBudget: RetryBudgetPatch.optional(), version: Version.optional(), reason: Reason.optional() })
  .strict();
export type BackendPatch = z.infer<typeof BackendPatch>;

/** A change to a backend: any top-level setting, the retry budget merged field by field. */
export type BackendChanges = Omit<BackendPatch, 'version' | 'reason'>;

export const BackendDelete = z.object({ version: Version.optional(), reason: Reason.optional() }).strict();

export const BackendHistoryAction = z.enum(['create', 'update', 'delete']);
export type BackendHistoryAction = z.infer<typeof BackendHistoryAction>;

export const BackendHistoryEntry = z.object({
  name: BackendName,
  version: z.number().int(),
  action: BackendHistoryAction,
  before: Backend.nullable(),
  after: Backend.nullable(),
  actor: z.string(),
  reason: z.string().nullable(),
  at: z.string(),
});
export type BackendHistoryEntry = z.infer<typeof BackendHistoryEntry>;

/** `GET /backends` and `GET /backends/:name`: the stored backend plus what it is doing now. */
export const BackendView = Backend.extend({
  /** Requests in flight to it on this gateway (its bulkhead occupancy), beside `maxInFlight`. */
  inFlight: z.number().int().min(0),
  /** The routes that send traffic to it. */
  routes: z.array(z.string()),
});
export type BackendView = z.infer<typeof BackendView>;

/** A new backend's role when none is given: the default legacy backend's own, else modern. */
export function roleOf(input: { name: string; role?: Side | undefined }): Side {
  return input.role ?? (input.name === DEFAULT_BACKEND_NAMES.legacy ? 'legacy' : 'modern');
}

/** Applies a partial change over full settings; the result is validated again by the caller. */
export function mergeBackend(base: BackendSettings, changes: BackendChanges): unknown {
  const { retryBudget, ...rest } = changes;
  return { ...base, ...definedOnly(rest), retryBudget: { ...base.retryBudget, ...definedOnly(retryBudget ?? {}) } };
}

/** The operator-controlled settings of a backend, by the keys of the BackendSettings schema. */
export function backendSettingsOf(backend: Backend): BackendSettings {
  return Object.fromEntries(Object.keys(BackendSettings.shape).map((k) => [k, backend[k as keyof Backend]])) as BackendSettings;
}

/** The fields of `obj` that are not undefined, so a partial change never erases a setting. */
export function definedOnly<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
