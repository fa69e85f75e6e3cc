import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { backendSettingsOf, type Backend, type Side } from './schema.js';
import { createUpstream, type Upstream } from './upstream.js';

/**
 * The named backends the data plane sends to, kept in step with the store. A backend whose
 * settings change gets a new pool, bulkhead and budget; requests in flight finish on the old
 * pool, which closes once they have (undici's `close()` waits for them), so a URL change drops
 * nothing. Reads are one Map lookup.
 */
export class LiveBackends {
  private byName = new Map<string, Upstream>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  get(name: string): Upstream | undefined {
    return this.byName.get(name);
  }

  /** The backend that serves `side` of a route (the default one for unmatched paths). */
  forSide(route: { legacyBackend: string; modernBackend: string } | undefined, side: Side): Upstream | undefined {
    return this.byName.get(route === undefined ? side : side === 'legacy' ? route.legacyBackend : route.modernBackend);
  }

  list(): Upstream[] {
    return [...this.byName.values()];
  }

  /** Makes the live backends match `backends`: new ones start, changed ones are rebuilt, removed ones drain. */
  sync(backends: readonly Backend[]): void {
    const next = new Map<string, Upstream>();
    for (const backend of backends) {
      const live = this.byName.get(backend.name);
      if (live !== undefined && sameSettings(live.backend, backend)) {
        next.set(backend.name, live);
        continue;
      }
      next.set(backend.name, createUpstream(backend, this.clock));
      if (live !== undefined) {
        this.retire(live);
        this.logger.info({ backend: backend.name, url: backend.url, version: backend.version }, 'backend changed');
      }
    }
    for (const [name, live] of this.byName) if (!next.has(name)) this.retire(live);
    this.byName = next;
  }

  /** Closes every pool at once, cutting what is still in flight (the data plane has drained first). */
  async destroy(): Promise<void> {
    await Promise.all(this.list().map((u) => u.pool.destroy()));
  }

  private retire(upstream: Upstream): void {
    upstream.pool.close().catch((err: unknown) => this.logger.warn({ err, backend: upstream.name }, 'closing a replaced backend pool failed'));
  }
}

function sameSettings(a: Backend, b: Backend): boolean {
  return JSON.stringify(backendSettingsOf(a)) === JSON.stringify(backendSettingsOf(b));
}
