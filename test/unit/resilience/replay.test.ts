import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_RETRY_AFTER_MS,
  isIdempotentMethod,
  isReplaySafe,
  isTransientStatus,
  neverReachedBackend,
  retryAfterMs,
  type FailureKind,
} from '../../../src/resilience/replay.js';

describe('isIdempotentMethod', () => {
  it.each([
    ['GET', true],
    ['HEAD', true],
    ['OPTIONS', true],
    ['PUT', true],
    ['DELETE', true],
    ['TRACE', true],
    ['POST', false],
    ['PATCH', false],
    ['CONNECT', false],
    ['PROPFIND', false],
    ['get', false],
    ['Put', false],
    ['', false],
    ['GET ', false],
  ])('%j → %s', (method, expected) => {
    expect(isIdempotentMethod(method)).toBe(expected);
  });
});

describe('neverReachedBackend', () => {
  it.each<[FailureKind, boolean]>([
    ['connect-error', true],
    ['breaker-open', true],
    ['bulkhead-full', true],
    ['timeout', false],
    ['reset', false],
    ['upstream-5xx', false],
    ['rate-limited', false],
  ])('%s → %s', (kind, expected) => {
    expect(neverReachedBackend(kind)).toBe(expected);
  });
});

describe('isReplaySafe', () => {
  // method, neverReached, bodyReplayable, hasIdempotencyKey, toSameBackend → expected
  type Row = [method: string, neverReached: boolean, bodyReplayable: boolean, key: boolean | undefined, same: boolean, expected: boolean];
  const T = true;
  const F = false;
  it.each<Row>([
    // Never reached a backend: any method, as long as the body can be sent again.
    ['POST', T, T, F, F, T],
    ['POST', T, T, F, T, T],
    ['PATCH', T, T, undefined, F, T],
    ['GET', T, T, F, F, T],
    ['POST', T, F, F, F, F],
    ['POST', T, F, T, T, F],
    ['GET', T, F, F, T, F],
    // May have reached it: idempotent methods only...
    ['GET', F, T, F, F, T],
    ['GET', F, T, undefined, T, T],
    ['HEAD', F, T, F, F, T],
    ['OPTIONS', F, T, F, F, T],
    ['PUT', F, T, F, F, T],
    ['DELETE', F, T, F, T, T],
    ['TRACE', F, T, F, F, T],
    ['PUT', F, F, F, T, F], // a streamed PUT body is gone
    ['PUT', F, F, T, T, F],
    // ...a POST or PATCH never to legacy, and to the same backend only with an Idempotency-Key.
    ['POST', F, T, F, F, F],
    ['POST', F, T, F, T, F],
    ['POST', F, T, undefined, T, F],
    ['POST', F, T, T, F, F],
    ['POST', F, T, T, T, T],
    ['POST', F, F, T, T, F],
    ['PATCH', F, T, F, F, F],
    ['PATCH', F, T, T, F, F],
    ['PATCH', F, T, T, T, T],
    ['PATCH', F, F, T, T, F],
    ['post', F, T, F, T, F], // not a method Node would give; not idempotent
  ])('%s neverReached=%s bodyReplayable=%s key=%s sameBackend=%s → %s', (method, neverReached, bodyReplayable, key, same, expected) => {
    const input = { method, neverReached, bodyReplayable, toSameBackend: same };
    expect(isReplaySafe(key === undefined ? input : { ...input, hasIdempotencyKey: key })).toBe(expected);
  });

  const inputArb = fc.record({
    method: fc.constantFrom('GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'POST', 'PATCH', 'CONNECT', 'get'),
    neverReached: fc.boolean(),
    bodyReplayable: fc.boolean(),
    hasIdempotencyKey: fc.option(fc.boolean(), { nil: undefined }),
    toSameBackend: fc.boolean(),
  });

  it('never resends a body it no longer has', () => {
    fc.assert(fc.property(inputArb, (input) => !isReplaySafe({ ...input, bodyReplayable: false })));
  });

  it('never replays a non-idempotent request that may have reached a backend to another backend', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        if (isIdempotentMethod(input.method)) return true;
        return !isReplaySafe({ ...input, neverReached: false, toSameBackend: false });
      }),
    );
  });

  it('always allows a request that never reached a backend, or an idempotent one, with its body at hand', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const i = { ...input, bodyReplayable: true };
        if (i.neverReached || isIdempotentMethod(i.method)) return isReplaySafe(i);
        return isReplaySafe(i) === (i.toSameBackend && i.hasIdempotencyKey === true);
      }),
    );
  });
});

describe('isTransientStatus', () => {
  it.each([502, 503, 504, 429])('%i is transient', (status) => {
    expect(isTransientStatus(status)).toBe(true);
  });
  it.each([200, 301, 400, 401, 404, 408, 409, 413, 500, 501, 505, 599])('%i is not', (status) => {
    expect(isTransientStatus(status)).toBe(false);
  });
});

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 2, 15, 12, 0, 0); // Sun, 15 Mar 2026 12:00:00 GMT

  it.each<[string | undefined, number | undefined]>([
    ['0', 0],
    ['1', 1_000],
    ['5', 5_000],
    ['60', 60_000],
    ['61', MAX_RETRY_AFTER_MS],
    ['120', MAX_RETRY_AFTER_MS],
    ['99999999999999999999999', MAX_RETRY_AFTER_MS],
    ['007', 7_000],
    [' 7 ', 7_000],
    ['-5', 0],
    ['-0', 0],
  ])('delta-seconds %j → %s', (header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });

  it.each<[string, number | undefined]>([
    ['Sun, 15 Mar 2026 12:00:30 GMT', 30_000],
    ['Sun, 15 Mar 2026 12:00:00 GMT', 0],
    ['Sun, 15 Mar 2026 11:59:00 GMT', 0], // in the past
    ['Thu, 01 Jan 1970 00:00:00 GMT', 0],
    ['Sun, 15 Mar 2026 12:05:00 GMT', MAX_RETRY_AFTER_MS],
    ['Fri, 31 Dec 9999 23:59:59 GMT', MAX_RETRY_AFTER_MS],
    ['Mon, 15 Mar 2026 12:00:10 GMT', 10_000], // a wrong weekday is ignored
    ['Sunday, 15-Mar-26 12:00:45 GMT', 45_000], // RFC 850
    ['Sunday, 15-Mar-94 12:00:45 GMT', 0], // RFC 850: 1994, not 2094
    ['Sun Mar 15 12:00:20 2026', 20_000], // asctime
    ['Sun Mar  5 12:00:20 2026', 0], // asctime, one-digit day
  ])('HTTP-date %j → %s', (header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });

  it('reads a two-digit RFC 850 year as within 50 years of now', () => {
    const in2090 = Date.UTC(2090, 0, 1);
    expect(retryAfterMs('Monday, 01-Jan-90 00:00:30 GMT', in2090)).toBe(30_000);
    expect(retryAfterMs('Monday, 01-Jan-10 00:00:30 GMT', in2090)).toBe(MAX_RETRY_AFTER_MS); // 2110, not 2010
  });

  it.each<string | undefined>([
    undefined,
    '',
    '   ',
    'soon',
    '1.5',
    '1e3',
    '+5',
    '0x10',
    '5 seconds',
    'Infinity',
    'NaN',
    '2026-03-15T12:00:30Z', // Date.parse reads it; HTTP does not
    '15 Mar 2026 12:00:30 GMT',
    'Sun, 15 Mar 2026 12:00:30 UTC',
    'sun, 15 mar 2026 12:00:30 gmt',
    'Sun, 31 Feb 2026 12:00:30 GMT',
    'Sun, 00 Mar 2026 12:00:30 GMT',
    'Sun, 15 Mar 2026 24:00:00 GMT',
    'Sun, 15 Mar 2026 12:60:00 GMT',
    'Sun, 15 Mar 2026 12:00:61 GMT',
    'Sun, 15 Mar 2026 12:00 GMT',
    'Sunday, 15-Mar-2026 12:00:45 GMT',
    'soon 5',
  ])('garbage %j → undefined', (header) => {
    expect(retryAfterMs(header, now)).toBeUndefined();
  });

  it('accepts a leap second', () => {
    expect(retryAfterMs('Sun, 15 Mar 2026 12:00:60 GMT', now)).toBe(60_000);
  });

  it('always answers undefined or a delay in [0, 60 s]', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 4_000_000_000_000 }), (header, nowMs) => {
        const ms = retryAfterMs(header, nowMs);
        return ms === undefined || (ms >= 0 && ms <= MAX_RETRY_AFTER_MS);
      }),
    );
  });
});
