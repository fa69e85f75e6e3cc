import { Pool } from 'undici';
import type { Backend } from '../routing/schema.js';

/** One backend: its keep-alive connection pool and the base path prepended to forwarded paths. */
export interface Upstream {
  readonly name: Backend;
  readonly origin: string;
  readonly basePath: string;
  readonly pool: Pool;
}

export interface UpstreamOptions {
  /** Most sockets open to this backend at once. */
  connections?: number;
  connectTimeoutMs?: number;
}

export function createUpstream(name: Backend, url: string, options: UpstreamOptions = {}): Upstream {
  const parsed = new URL(url);
  return {
    name,
    origin: parsed.origin,
    basePath: parsed.pathname.replace(/\/+$/, ''),
    pool: new Pool(parsed.origin, {
      connections: options.connections ?? 256,
      connect: { timeout: options.connectTimeoutMs ?? 5_000 }, // 5 s: a backend that slow to accept is down
      keepAliveTimeout: 4_000, // below Node's default 5 s server keep-alive, so we never reuse a socket the backend is closing
      // The gateway's own retry rules decide what is replayed; the pool must never retry on its own.
      pipelining: 1,
    }),
  };
}
