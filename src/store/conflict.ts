import { GatewayError } from '../errors.js';

/**
 * Optimistic concurrency: refuses a change made against `expected` when the stored object is
 * at `actual` (409 VERSION_CONFLICT, the current version in the details). No expectation, no check.
 */
export function assertExpectedVersion(kind: 'route' | 'backend', key: string, actual: number, expected: number | undefined): void {
  if (expected === undefined || expected === actual) return;
  throw new GatewayError('VERSION_CONFLICT', `${kind} "${key}" is at version ${actual}, not ${expected}; re-read it and try again`, {
    details: { currentVersion: actual },
  });
}
