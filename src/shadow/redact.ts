import { within, type PatternStep, type Step } from './json-path.js';

/** What a redacted value reads as in samples and logs. */
export const REDACTED = '[redacted]';

/** Headers whose values never reach samples or logs, whatever `compareHeaders` lists. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

export function isSecretHeader(name: string): boolean {
  return SECRET_HEADERS.has(name);
}

/** Whether the value at `path` lies under one of the route's `redactPaths`. */
export function isRedacted(patterns: readonly (readonly PatternStep[])[], path: readonly Step[]): boolean {
  return patterns.some((p) => within(p, path));
}

/**
 * A copy of `value` (found at `path`) with every place under a redact pattern replaced by
 * REDACTED: a difference shown as a whole object or array must not carry a secret inside it.
 */
export function redactWithin(value: unknown, path: Step[], patterns: readonly (readonly PatternStep[])[]): unknown {
  if (patterns.length === 0) return value;
  if (isRedacted(patterns, path)) return REDACTED;
  if (Array.isArray(value)) return value.map((v, i) => redactWithin(v, [...path, i], patterns));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactWithin(v, [...path, k], patterns)]));
  }
  return value;
}
