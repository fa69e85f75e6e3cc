import type { Route } from './schema.js';

/**
 * An immutable snapshot of the routes, built once per change and swapped in whole, so the
 * hot path reads it without locks or queries. Lookup walks the request path's segment
 * boundaries from the longest candidate to "/", one Map lookup each: the cost depends on
 * the path's depth, not on how many routes there are.
 */
export class RouteTable {
  readonly size: number;
  /** The routes the table was built from, as the store listed them. */
  readonly routes: readonly Route[];
  private readonly byPrefix: Map<string, Route>;
  private readonly longestPrefix: number;

  constructor(routes: readonly Route[]) {
    this.routes = routes;
    this.byPrefix = new Map(routes.map((r) => [r.pathPrefix, r]));
    this.size = this.byPrefix.size;
    this.longestPrefix = routes.reduce((max, r) => Math.max(max, r.pathPrefix.length), 0);
  }

  static readonly empty = new RouteTable([]);

  /**
   * The route whose prefix is the longest match of `path` on a segment boundary:
   * `/orders` matches `/orders`, `/orders/` and `/orders/42`, never `/orders-archive`.
   * `path` must already be normalised (see path.ts); a query string must not be included.
   */
  match(path: string): Route | undefined {
    if (this.size === 0) return undefined;
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
