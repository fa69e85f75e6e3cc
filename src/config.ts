import { isIP } from 'node:net';
import { z } from 'zod';
import { BackendUrl } from './backends/schema.js';
import { trustListError } from './proxy/trusted-proxies.js';
import { WebhookUrl } from './outbox/webhook.js';

const Port = z.coerce.number().int().min(0).max(65535);
/** A size in bytes, or `none` (null): no limit. */
const ByteLimit = z.union([z.null(), z.literal('none').transform(() => null), z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]);
const Host = z.string().min(1);
/** Comma-separated host names or IP addresses, or `*`. */
const HostList = z
  .string()
  .transform((v) => v.split(',').map((h) => h.trim()).filter((h) => h !== ''))
  .pipe(z.array(z.string().regex(/^(\*|[a-z0-9.-]+|\[?[0-9a-f:.]+\]?)$/i, 'must be host names or IP addresses separated by commas, or *')));

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const DEFAULTS = {
  db: './routes.db',
  dbPoolSize: 5, // PostgreSQL connections per gateway: writes are serialised anyway, reads are few
  dbStatementTimeoutMs: 5_000, // PostgreSQL: a statement running longer is cancelled (and the write answers 503)
  port: 8080,
  host: '0.0.0.0',
  adminPort: 9901,
  adminHost: '127.0.0.1',
  logLevel: 'info',
  logFormat: 'json',
  accessLog: 'on',
  shutdownGraceMs: 10_000, // 10 s: most requests finish; shorter than Kubernetes' 30 s kill
  keepAliveTimeoutMs: 65_000, // above the 60 s idle timeout of common load balancers
  trustProxy: '', // nobody: X-Forwarded-* from clients are replaced
  headersTimeoutMs: 10_000, // 10 s to send a request head: generous for a phone, short for a slowloris
  requestTimeoutMs: 300_000, // 5 min for a whole request, body included (Node's default)
  maxHeaderBytes: 16_384, // 16 KiB of request line + headers (Node's and nginx-like default); past it 431
  maxUrlBytes: 8_192, // longest request target; past it 414 (nginx's large_client_header_buffers is 8 KiB)
  maxBodyBytes: null, // no limit: the backend decides what it accepts (routes may set one; `--max-body-bytes N` sets one for all)
  maxConnections: 10_000, // open client connections at once; past it a fast 503 (mind `ulimit -n`)
} as const;

/** Everything `strangler serve` needs; flags and environment variables both land here. */
export const ServeConfig = z
  .object({
    /** The default legacy backend's URL; stored, so later starts may leave it out. */
    legacy: BackendUrl.optional(),
    modern: BackendUrl.optional(),
    db: z.string().min(1).default(DEFAULTS.db),
    dbPoolSize: z.coerce.number().int().min(1).max(100).default(DEFAULTS.dbPoolSize),
    dbStatementTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(DEFAULTS.dbStatementTimeoutMs),
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
    /** The default backends' bulkheads, when given; otherwise the stored value (256 when created). */
    legacyMaxInFlight: z.coerce.number().int().min(1).max(100_000).optional(),
    modernMaxInFlight: z.coerce.number().int().min(1).max(100_000).optional(),
    /** Comma list of addresses and CIDRs whose X-Forwarded-* the gateway appends to instead of replacing. */
    trustProxy: z
      .string()
      .default(DEFAULTS.trustProxy)
      .superRefine((value, ctx) => {
        const problem = trustListError(value);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      }),
    headersTimeoutMs: z.coerce.number().int().min(1000).max(600_000).default(DEFAULTS.headersTimeoutMs),
    requestTimeoutMs: z.coerce.number().int().min(1000).max(3_600_000).default(DEFAULTS.requestTimeoutMs),
    maxHeaderBytes: z.coerce.number().int().min(1024).max(1_048_576).default(DEFAULTS.maxHeaderBytes),
    maxUrlBytes: z.coerce.number().int().min(256).max(1_048_576).default(DEFAULTS.maxUrlBytes),
    maxBodyBytes: ByteLimit.default(DEFAULTS.maxBodyBytes),
    maxConnections: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULTS.maxConnections),
    /** Webhook URLs lifecycle events are posted to (`--webhook`, repeatable); stored like `POST /webhooks`'s. */
    webhook: z.array(WebhookUrl).default([]),
  })
  .strict()
  .refine((c) => c.headersTimeoutMs <= c.requestTimeoutMs, {
    path: ['headersTimeoutMs'],
    message: 'must not exceed requestTimeoutMs',
  })
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
