import { isIP } from 'node:net';
import { z } from 'zod';

const BackendUrl = z
  .string()
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'must be an http:// or https:// URL')
  .refine((v) => !URL.canParse(v) || (new URL(v).search === '' && new URL(v).hash === ''), 'must not have a query or fragment');

const Port = z.coerce.number().int().min(0).max(65535);
const Host = z.string().min(1);
/** Comma-separated host names or IP addresses, or `*`. */
const HostList = z
  .string()
  .transform((v) => v.split(',').map((h) => h.trim()).filter((h) => h !== ''))
  .pipe(z.array(z.string().regex(/^(\*|[a-z0-9.-]+|\[?[0-9a-f:.]+\]?)$/i, 'must be host names or IP addresses separated by commas, or *')));

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const DEFAULTS = {
  db: './routes.db',
  port: 8080,
  host: '0.0.0.0',
  adminPort: 9901,
  adminHost: '127.0.0.1',
  logLevel: 'info',
  logFormat: 'json',
  accessLog: 'on',
  shutdownGraceMs: 10_000, // 10 s: most requests finish; shorter than Kubernetes' 30 s kill
  keepAliveTimeoutMs: 65_000, // above the 60 s idle timeout of common load balancers
  maxInFlight: 256, // per backend: enough for a busy monolith, bounded so a slow one cannot take every socket
} as const;

/** Everything `strangler serve` needs; flags and environment variables both land here. */
export const ServeConfig = z
  .object({
    legacy: BackendUrl,
    modern: BackendUrl,
    db: z.string().min(1).default(DEFAULTS.db),
    port: Port.default(DEFAULTS.port),
    host: Host.default(DEFAULTS.host),
    adminPort: Port.default(DEFAULTS.adminPort),
    adminHost: Host.default(DEFAULTS.adminHost),
    adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
    adminAllowedHosts: HostList.default([]),
    logLevel: z.enum(LOG_LEVELS).default(DEFAULTS.logLevel),
    logFormat: z.enum(['json', 'pretty']).default(DEFAULTS.logFormat),
    accessLog: z.enum(['on', 'off']).default(DEFAULTS.accessLog),
    shutdownGraceMs: z.coerce.number().int().min(0).max(600_000).default(DEFAULTS.shutdownGraceMs),
    keepAliveTimeoutMs: z.coerce.number().int().min(1000).max(3_600_000).default(DEFAULTS.keepAliveTimeoutMs),
    legacyMaxInFlight: z.coerce.number().int().min(1).max(100_000).default(DEFAULTS.maxInFlight),
    modernMaxInFlight: z.coerce.number().int().min(1).max(100_000).default(DEFAULTS.maxInFlight),
  })
  .strict()
  .refine((c) => c.adminToken !== undefined || isLoopback(c.adminHost), {
    path: ['adminHost'],
    message: 'a non-loopback admin host needs STRANGLER_ADMIN_TOKEN to be set',
  });
export type ServeConfig = z.infer<typeof ServeConfig>;
export type ServeConfigInput = z.input<typeof ServeConfig>;

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}
