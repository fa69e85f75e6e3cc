import { Pool } from 'undici';
import type { Clock } from '../clock.js';
import { Bulkhead } from '../resilience/bulkhead.js';
import { RetryBudget } from '../resilience/retry-budget.js';
import type { Backend, HostHeaderMode, Side } from './schema.js';

/** One named backend at run time: its pool, its compartment, its retry budget, and the base path prepended to forwarded paths. */
export interface Upstream {
  readonly name: string;
  /** The side of a migration it serves. */
  readonly role: Side;
  readonly origin: string;
  readonly basePath: string;
  readonly pool: Pool;
  readonly bulkhead: Bulkhead;
  readonly budget: RetryBudget;
  /** The pool's own connect timeout; routes may set a shorter one. */
  readonly connectTimeoutMs: number;
  /** The stored backend it was built from: a change to any of its settings builds a new one. */
  readonly backend: Backend;
  /** Which `Host` this backend receives: the client's, or its own `authority`. */
  readonly hostHeader: HostHeaderMode;
  /** The backend's own `host[:port]`, sent as `Host` in `backend` mode (and when the client sent none). */
  readonly authority: string;
}

export function createUpstream(backend: Backend, clock: Clock): Upstream {
  const parsed = new URL(backend.url);
  const { maxInFlight, connectTimeoutMs, retryBudget } = backend;
  return {
    name: backend.name,
    role: backend.role,
    origin: parsed.origin,
    basePath: parsed.pathname.replace(/\/+$/, ''),
    bulkhead: new Bulkhead(maxInFlight),
    budget: new RetryBudget({ ratio: retryBudget.percent / 100, minRetriesPerSecond: retryBudget.minPerSecond }, clock),
    connectTimeoutMs,
    backend,
    hostHeader: backend.hostHeader,
    authority: parsed.host,
    pool: createPool(parsed.origin, poolSettings(backend)),
  };
}

/** What a backend's connection pool is built from: shadow mode's copy thread builds its own pools from it. */
export interface PoolSettings {
  connections: number;
  connectTimeoutMs: number;
}

export function poolSettings(backend: Backend): PoolSettings {
  // By default one socket per in-flight request: the bulkhead is the real bound.
  return { connections: backend.connections ?? backend.maxInFlight, connectTimeoutMs: backend.connectTimeoutMs };
}

export function createPool(origin: string, { connections, connectTimeoutMs }: PoolSettings): Pool {
  return new Pool(origin, {
    connections,
    connect: { timeout: connectTimeoutMs },
    keepAliveTimeout: 4_000, // below Node's default 5 s server keep-alive, so we never reuse a socket the backend is closing
    // The gateway's own retry rules decide what is replayed; the pool must never retry on its own.
    pipelining: 1,
  });
}
