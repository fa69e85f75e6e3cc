import type { Random } from '../clock.js';
import type { Side, Route } from './schema.js';

export const BUCKETS = 100;

/**
 * A stable bucket in [0, 100) for a sticky key: FNV-1a over the UTF-16 code units, then
 * murmur3's finaliser so that near-identical keys ("user-1", "user-2") spread evenly.
 * A key keeps its bucket forever, so "bucket < percent goes modern" is both sticky (same key,
 * same side while the percentage holds) and monotone (raising it only moves keys to modern).
 */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) % BUCKETS;
}

export function randomBucket(random: Random): number {
  return Math.floor(random() * BUCKETS);
}

/** The side a request takes on a route; `bucket` is asked for only in canary mode. */
export function chooseBackend(route: Route | undefined, bucket: () => number): Side {
  if (route === undefined) return 'legacy';
  switch (route.mode) {
    case 'legacy':
    case 'shadow': // modern gets a copy in the background (shadow/), never the answer
      return 'legacy';
    case 'modern':
      return 'modern';
    case 'canary':
      return bucket() < route.canaryPercent ? 'modern' : 'legacy';
  }
}

/** The header a `header:<name>` sticky key reads, or undefined for the cookie key. */
export function stickyHeader(stickyKey: string): string | undefined {
  return stickyKey.startsWith('header:') ? stickyKey.slice('header:'.length) : undefined;
}
