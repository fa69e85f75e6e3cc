import type { Mode, Route } from './schema.js';

/**
 * The routes the data plane matches against, patched in place as changes arrive (`put`,
 * `remove`), so a change costs what it changes, not the size of the table. Route objects are
 * immutable and replaced whole; the data plane runs between patches (one event loop), so a
 * request sees a route either before or after a change, never half of one.
 *
 * Lookup walks the request path's segment boundaries from the longest candidate to "/", one
 * Map lookup each: the cost depends on the path's depth, not on how many routes there are.
 */
export class RouteTable {
  private readonly byPrefix = new Map<string, Route>();
  private readonly byId = new Map<string, Route>();
  /** An upper bound of the longest prefix: it only saves lookups, so it may stay high after a delete. */
  private longestPrefix = 0;
  private readonly modes: Record<Mode, number> = { legacy: 0, canary: 0, modern: 0, shadow: 0 };

  constructor(routes: Iterable<Route> = []) {
    for (const route of routes) this.put(route);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Routes per mode, kept as routes are put and removed. */
  get modeCounts(): Readonly<Record<Mode, number>> {
    return this.modes;
  }

  /** Every route, in no particular order. */
  values(): IterableIterator<Route> {
    return this.byId.values();
  }

  get(id: string): Route | undefined {
    return this.byId.get(id);
  }

  /** Adds a route, or replaces the one with the same id (its prefix may have moved). */
  put(route: Route): void {
    this.remove(route.id);
    this.byId.set(route.id, route);
    // A prefix another route still holds is taken over: in a swap, that route's own put follows.
    this.byPrefix.set(route.pathPrefix, route);
    this.modes[route.mode]++;
    if (route.pathPrefix.length > this.longestPrefix) this.longestPrefix = route.pathPrefix.length;
  }

  remove(id: string): void {
    const old = this.byId.get(id);
    if (old === undefined) return;
    this.byId.delete(id);
    this.modes[old.mode]--;
    if (this.byPrefix.get(old.pathPrefix) === old) this.byPrefix.delete(old.pathPrefix);
  }

  /**
   * The route whose prefix is the longest match of `path` on a segment boundary:
   * `/orders` matches `/orders`, `/orders/` and `/orders/42`, never `/orders-archive`.
   * `path` must already be normalised (see path.ts); a query string must not be included.
   */
  match(path: string): Route | undefined {
    if (this.byPrefix.size === 0) return undefined;
    let end = path.length;
    for (;;) {
      if (end <= this.longestPrefix) {
        const candidate = end === path.length ? path : end === 0 ? '/' : path.slice(0, end);
        const route = this.byPrefix.get(candidate);
        if (route !== undefined) return route;
      }
      if (end === 0) return undefined;
      end = path.lastIndexOf('/', end - 1);
      if (end < 0) return undefined;
    }
  }
}
