import { Pool } from 'undici';
import type { Clock } from '../clock.js';
import { Bulkhead } from '../resilience/bulkhead.js';
import { RetryBudget } from '../resilience/retry-budget.js';
import { MAX_CONNECT_TIMEOUT_MS, type Backend, type HostHeaderMode } from '../routing/schema.js';

/** One backend: its pool, its compartment, its retry budget, and the base path prepended to forwarded paths. */
export interface Upstream {
  readonly name: Backend;
  readonly origin: string;
  readonly basePath: string;
  readonly pool: Pool;
  readonly bulkhead: Bulkhead;
  readonly budget: RetryBudget;
  /** The pool's own connect timeout; routes may set a shorter one. */
  readonly connectTimeoutMs: number;
  /** Which `Host` this backend receives: the client's, or its own `authority`. */
  readonly hostHeader: HostHeaderMode;
  /** The backend's own `host[:port]`, sent as `Host` in `backend` mode (and when the client sent none). */
  readonly authority: string;
}

export interface UpstreamOptions {
  /** Most requests in flight to this backend at once (and most sockets open to it). */
  maxInFlight?: number;
  connectTimeoutMs?: number;
  /** The `Host` this backend receives (default `client`: the one the client sent). */
  hostHeader?: HostHeaderMode;
}

export const DEFAULT_MAX_IN_FLIGHT = 256;

export function createUpstream(name: Backend, url: string, clock: Clock, options: UpstreamOptions = {}): Upstream {
  const parsed = new URL(url);
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const connectTimeoutMs = options.connectTimeoutMs ?? MAX_CONNECT_TIMEOUT_MS;
  return {
    name,
    origin: parsed.origin,
    basePath: parsed.pathname.replace(/\/+$/, ''),
    bulkhead: new Bulkhead(maxInFlight),
    budget: new RetryBudget({}, clock),
    connectTimeoutMs,
    hostHeader: options.hostHeader ?? 'client',
    authority: parsed.host,
    pool: new Pool(parsed.origin, {
      connections: maxInFlight, // one socket per in-flight request: the bulkhead is the real bound
      connect: { timeout: connectTimeoutMs },
      keepAliveTimeout: 4_000, // below Node's default 5 s server keep-alive, so we never reuse a socket the backend is closing
      // The gateway's own retry rules decide what is replayed; the pool must never retry on its own.
      pipelining: 1,
    }),
  };
}
