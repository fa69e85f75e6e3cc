import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Random } from '../clock.js';
import { bucketOf, chooseBackend, randomBucket, stickyHeader } from '../routing/canary.js';
import { normaliseTarget, readingsOf } from '../routing/path.js';
import type { RouteTable } from '../routing/route-table.js';
import type { Side, Route } from '../routing/schema.js';

export const CANARY_COOKIE = 'strangler_canary';
const COOKIE_VALUE = /^[A-Za-z0-9_-]{1,64}$/;
const COOKIE_MAX_AGE_S = 365 * 24 * 3600; // a year: the browser keeps its side for the whole migration

/** Where one request goes, decided once at the edge. */
export interface Resolution {
  /** The normalised path plus the verbatim query: exactly what is matched and forwarded. */
  target: string;
  route: Route | undefined;
  backend: Side;
  /** A Set-Cookie value pinning a new canary key, when the gateway issued one. */
  setCookie: string | undefined;
}

export type Refusal = { refused: string };

/**
 * Normalises the target, matches the route and picks the side. A path that two backend
 * readings would route differently (`%2F` decoded or not, `//` merged or not, servlet `;`
 * parameters, ...) is refused rather than guessed.
 */
export function resolve(req: IncomingMessage, table: RouteTable, random: Random): Resolution | Refusal {
  const normal = normaliseTarget(req.url ?? '');
  if (!normal.ok) return { refused: normal.reason };
  const route = table.match(normal.path);
  if (normal.ambiguous) {
    // Backends read `%2F`, `\`, `//` and `;` differently: every reading must select this route.
    for (const reading of readingsOf(normal.path)) {
      if (table.match(reading) !== route) {
        return { refused: 'backends read this path differently (%2F, \\, // or ;), and their readings select different routes' };
      }
    }
  }
  let setCookie: string | undefined;
  const backend = chooseBackend(route, () => {
    const header = stickyHeader(route!.stickyKey);
    if (header !== undefined) {
      const value = req.headers[header];
      const key = Array.isArray(value) ? value[0] : value;
      return key ? bucketOf(key) : randomBucket(random);
    }
    let key = readCookie(req.headers.cookie, CANARY_COOKIE);
    if (key === undefined) {
      key = randomUUID();
      setCookie = `${CANARY_COOKIE}=${key}; Path=/; Max-Age=${COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax`;
    }
    return bucketOf(key);
  });
  return { target: normal.path + normal.query, route, backend, setCookie };
}

/** The value of cookie `name` when it is well formed, else undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (let start = 0; start < header.length; ) {
    const end = header.indexOf(';', start);
    const pair = header.slice(start, end < 0 ? header.length : end).trim();
    if (pair.startsWith(name) && pair.charCodeAt(name.length) === 61 /* = */) {
      const value = pair.slice(name.length + 1);
      return COOKIE_VALUE.test(value) ? value : undefined;
    }
    if (end < 0) break;
    start = end + 1;
  }
  return undefined;
}
