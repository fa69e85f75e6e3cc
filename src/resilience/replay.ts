/**
 * When a request may be sent again, and which failures are worth it. Pure rules, no state.
 *
 * Sending a request twice must not do harm twice: a POST that reached modern and is replayed to
 * legacy can charge a user twice. So a request is replayed only when it is idempotent, when it
 * provably never reached a backend, or when the backend deduplicates it (Idempotency-Key).
 */

/** Why an upstream attempt failed, as the proxy classifies it. */
export type FailureKind = 'connect-error' | 'timeout' | 'reset' | 'upstream-5xx' | 'breaker-open' | 'bulkhead-full' | 'rate-limited';

/** RFC 9110 §9.2.2: the idempotent methods. TRACE is one too, though the gateway may refuse it elsewhere. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * true for GET, HEAD, OPTIONS, PUT, DELETE and TRACE. Case-sensitive, as method names are
 * (RFC 9110 §9.1) and as Node gives them: `get` is a different, unknown method, so not idempotent.
 */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method);
}

/**
 * true when the failure happened before a single byte went to a backend: the connection was
 * refused, or the gateway itself held the request back (breaker open, bulkhead full). A timeout
 * or a reset may come after the backend acted, so they do not count, nor does any answer
 * (5xx, 429) that the backend sent.
 */
export function neverReachedBackend(kind: FailureKind): boolean {
  return kind === 'connect-error' || kind === 'breaker-open' || kind === 'bulkhead-full';
}

/**
 * May this request be sent again (to the same backend, or to legacy)?
 *
 * - `bodyReplayable`: the gateway still has the whole body (buffered) or there was none.
 *   Without it nothing can be resent, whatever the method.
 * - `neverReached`: no backend saw the request ({@link neverReachedBackend}): any method is safe.
 * - An idempotent method ({@link isIdempotentMethod}) is safe to repeat anywhere.
 * - `hasIdempotencyKey` makes a retry safe only with `toSameBackend`: the key is deduplicated by
 *   the backend that saw it, so a POST or PATCH that may have reached modern is never replayed
 *   to legacy.
 */
export function isReplaySafe(input: {
  method: string;
  bodyReplayable: boolean;
  neverReached: boolean;
  hasIdempotencyKey?: boolean;
  toSameBackend: boolean;
}): boolean {
  if (!input.bodyReplayable) return false;
  if (input.neverReached) return true;
  if (isIdempotentMethod(input.method)) return true;
  return input.toSameBackend && input.hasIdempotencyKey === true;
}

/**
 * true for the statuses that say "try again shortly": 502, 503, 504 and 429 (honour its
 * Retry-After). Other 5xx mean the backend processed and failed the request; 4xx are the
 * client's to fix.
 */
export function isTransientStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504 || status === 429;
}

/** Longest Retry-After honoured: one minute. A backend asking for longer is down; do not hold the request. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * The wait a Retry-After header asks for, in ms from `nowMs`: delta-seconds (`120`) or an
 * HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime forms that RFC 9110 §5.6.7 says
 * recipients must accept). A negative delay (a past date, or a negative number, which some
 * servers send) is 0; more than {@link MAX_RETRY_AFTER_MS} is capped to it; anything else
 * (absent, empty, fractional, garbage, an impossible date) is undefined: use the own backoff.
 */
export function retryAfterMs(header: string | undefined, nowMs: number): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  let delayMs: number;
  if (/^-?\d+$/.test(value)) {
    delayMs = Number(value) * 1000;
  } else {
    const at = parseHttpDate(value, nowMs);
    if (at === undefined) return undefined;
    delayMs = at - nowMs;
  }
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, delayMs));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
const MONTH = `(${MONTHS.join('|')})`;
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/**
 * Epoch ms of an HTTP-date, or undefined. Strict on purpose: `Date.parse` accepts almost
 * anything ("1", "soon 5"), and a wrongly parsed date would hold a request for a minute.
 */
function parseHttpDate(value: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(value);
  if (m) return utc(Number(m[3]), m[2], m[1], m[4], m[5], m[6]);
  m = RFC850_DATE.exec(value);
  if (m) return utc(fullYear(Number(m[3]), nowMs), m[2], m[1], m[4], m[5], m[6]);
  m = ASCTIME_DATE.exec(value);
  if (m) return utc(Number(m[6]), m[1], m[2], m[3], m[4], m[5]);
  return undefined;
}

/** RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century. */
function fullYear(twoDigits: number, nowMs: number): number {
  const thisYear = new Date(nowMs).getUTCFullYear();
  let year = thisYear - (thisYear % 100) + twoDigits;
  if (year > thisYear + 50) year -= 100;
  else if (year <= thisYear - 50) year += 100;
  return year;
}

type Field = string | undefined;

function utc(year: number, month: Field, day: Field, hours: Field, minutes: Field, seconds: Field): number | undefined {
  const [d, hh, mm, ss] = [Number(day), Number(hours), Number(minutes), Number(seconds)];
  const midnight = Date.UTC(year, MONTHS.indexOf(month ?? ''), d);
  // Date.UTC rolls 31 Feb over to March; a day that does not round-trip does not exist.
  if (new Date(midnight).getUTCDate() !== d) return undefined;
  if (hh > 23 || mm > 59 || ss > 60) return undefined; // 60: a leap second, which the grammar allows
  return midnight + ((hh * 60 + mm) * 60 + ss) * 1000;
}
