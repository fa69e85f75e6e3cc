import { z } from 'zod';
import { parseOrThrow } from '../validation.js';

/**
 * The most a list endpoint answers in one page, and what it answers without `limit`. A page is
 * serialised on the serving event loop: a thousand routes take a few milliseconds, ten thousand
 * held it for 77 ms in the bench.
 */
export const MAX_PAGE = 1_000;
export const DEFAULT_PAGE = 1_000;

/**
 * `?limit=&after=` of the list endpoints. `after` is the `next` cursor of the page before
 * (today the last path prefix of that page; treat it as opaque).
 */
export const PageQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(DEFAULT_PAGE),
    after: z.string().min(1).max(2048).optional(),
  })
  .strict();
export type PageQuery = z.infer<typeof PageQuery>;

export function pageQuery(query: unknown): PageQuery {
  return parseOrThrow(PageQuery, query ?? {}, 'query');
}

/** The cursor of the page after `items`, or null when this was the last page. */
export function nextCursor<T>(items: readonly T[], limit: number, cursorOf: (item: T) => string): string | null {
  return items.length === limit && items.length > 0 ? cursorOf(items.at(-1)!) : null;
}
