/**
 * The list of every route (id, prefix, mode) from the paged `GET /routes`, in the store's prefix
 * order, which is also the order of `/status` and `/breakers`. The overview searches and pages
 * it; a row's numbers are then read with `?after=` the prefix of the row before it.
 */
import type { Route } from '../../src/routing/schema.js';
import { getAll } from './api.js';
import type { IndexEntry } from './paging.js';

/** 100 pages of 1,000 routes; a bigger table is searched over its first 100,000. */
const MAX_PAGES = 100;
const FRESH_MS = 30_000;

let cache: { entries: IndexEntry[]; complete: boolean; at: number } | undefined;

export async function routeIndex(force = false): Promise<{ entries: IndexEntry[]; complete: boolean }> {
  if (!force && cache !== undefined && Date.now() - cache.at < FRESH_MS) return cache;
  const { items, complete } = await getAll<Route>('routes', 'routes', MAX_PAGES);
  cache = { entries: items.map(({ id, pathPrefix, mode, stage }) => ({ id, pathPrefix, mode, stage })), complete, at: Date.now() };
  return cache;
}

/** Forgets the list, after a change made here. */
export function invalidateIndex(): void {
  cache = undefined;
}
