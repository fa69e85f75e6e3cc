/**
 * Paging over the route list: search, the runs of rows a page shows, and the `?after=` cursor
 * of each run (the prefix of the route before it). Pure, unit-tested.
 */
import type { Route } from '../../src/routing/schema.js';

export type IndexEntry = Pick<Route, 'id' | 'pathPrefix' | 'mode' | 'stage'>;

/** Case-insensitive match on id or prefix. */
export function matches(entry: IndexEntry, query: string): boolean {
  const q = query.trim().toLowerCase();
  return q === '' || entry.id.includes(q) || entry.pathPrefix.toLowerCase().includes(q);
}

/** The `?after=` cursor that makes a page start at position `i` of the index (undefined for the first). */
export function cursorBefore(entries: readonly IndexEntry[], i: number): string | undefined {
  return i > 0 ? entries[i - 1]!.pathPrefix : undefined;
}

/** Sorted positions cut into runs of consecutive ones: each run is one `?after=&limit=` read. */
export function runs(positions: readonly number[]): { start: number; length: number }[] {
  const out: { start: number; length: number }[] = [];
  for (const p of positions) {
    const last = out.at(-1);
    if (last !== undefined && last.start + last.length === p) last.length++;
    else out.push({ start: p, length: 1 });
  }
  return out;
}

/** `path?limit=n&after=cursor`. */
export function pageQuery(path: string, limit: number, after: string | undefined): string {
  return `${path}?limit=${limit}${after === undefined ? '' : `&after=${encodeURIComponent(after)}`}`;
}
