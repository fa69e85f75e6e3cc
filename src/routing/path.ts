/**
 * Request-target normalisation.
 *
 * The gateway must match a route and forward the request under ONE reading of the path,
 * otherwise `/public/../orders` is routed as `/public` but served by the backend as `/orders`.
 * So: normalise once, match on exactly the string that is forwarded, and refuse (400) what
 * different backends would read differently (encoded slashes, backslashes, bad UTF-8, ...).
 *
 * Pure functions: no I/O, no clock, no randomness.
 */

export type TargetResult =
  | { ok: true; path: string; query: string; altPath: string | undefined }
  | { ok: false; reason: string };

/** Longest normalised path accepted. */
const MAX_PATH_LENGTH = 8192;
/** Longest route path prefix accepted. */
const MAX_PREFIX_LENGTH = 1024;

const CH_BANG = 0x21; // '!' – lowest printable non-space ASCII
const CH_TILDE = 0x7e; // '~' – highest printable ASCII
const CH_HASH = 0x23; // '#'
const CH_PERCENT = 0x25; // '%'
const CH_DOT = 0x2e; // '.'
const CH_SLASH = 0x2f; // '/'
const CH_SEMI = 0x3b; // ';'
const CH_QUESTION = 0x3f; // '?'
const CH_BACKSLASH = 0x5c; // '\'

const utf8 = new TextDecoder('utf-8', { fatal: true });

function reject(reason: string): TargetResult {
  return { ok: false, reason };
}

/** Value of one hex digit, or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30; // 0-9
  if (code >= 0x41 && code <= 0x46) return code - 0x37; // A-F
  if (code >= 0x61 && code <= 0x66) return code - 0x57; // a-f
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === CH_DOT ||
    byte === 0x5f || // _
    byte === CH_TILDE
  );
}

const HEX_UPPER = '0123456789ABCDEF';

function encodeByte(byte: number): string {
  return '%' + (HEX_UPPER[byte >> 4] as string) + (HEX_UPPER[byte & 0x0f] as string);
}

/** Reads the `%XX` at `i` of `s`; returns the byte or -1 when it is not `%` + two hex digits. */
function readEncoded(s: string, i: number): number {
  if (i + 2 >= s.length) return -1;
  const hi = hexValue(s.charCodeAt(i + 1));
  const lo = hexValue(s.charCodeAt(i + 2));
  if (hi < 0 || lo < 0) return -1;
  return (hi << 4) | lo;
}

type Decoded = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Canonicalises percent-encodings in a path: decodes unreserved characters, refuses encoded
 * slash, backslash and control characters, checks encoded bytes >= 0x80 form valid UTF-8 and
 * upper-cases the hex digits of everything that stays encoded. Never decodes `%25`.
 */
function canonicalisePercent(path: string): Decoded {
  let out = '';
  let start = 0; // start of the literal run not yet copied to `out`
  let i = path.indexOf('%');
  while (i !== -1) {
    out += path.slice(start, i);
    const byte = readEncoded(path, i);
    if (byte < 0) return { ok: false, reason: 'malformed percent-encoding in path (% must be followed by two hex digits)' };
    if (byte === CH_SLASH) return { ok: false, reason: 'encoded slash (%2F) in path' };
    if (byte === CH_BACKSLASH) return { ok: false, reason: 'encoded backslash (%5C) in path' };
    if (byte === 0x00) return { ok: false, reason: 'encoded NUL (%00) in path' };
    if (byte < 0x20 || byte === 0x7f) return { ok: false, reason: 'encoded control character in path' };
    if (byte < 0x80) {
      out += isUnreserved(byte) ? String.fromCharCode(byte) : encodeByte(byte);
      i += 3;
    } else {
      // A run of consecutive encoded non-ASCII bytes must be well-formed UTF-8 (no overlong
      // forms, lone continuation bytes, truncated sequences or surrogates).
      const bytes: number[] = [byte];
      i += 3;
      for (;;) {
        if (path.charCodeAt(i) !== CH_PERCENT) break;
        const next = readEncoded(path, i);
        if (next < 0x80) break; // ASCII or malformed: handled by the outer loop
        bytes.push(next);
        i += 3;
      }
      try {
        utf8.decode(Uint8Array.from(bytes));
      } catch {
        return { ok: false, reason: 'invalid UTF-8 in percent-encoded path (overlong, truncated or surrogate)' };
      }
      for (const b of bytes) out += encodeByte(b);
    }
    start = i;
    i = path.indexOf('%', i);
  }
  return { ok: true, path: out + path.slice(start) };
}

/**
 * Merges runs of `/` and removes `.` and `..` segments (RFC 3986 §5.2.4). `path` starts with
 * `/`. A trailing slash is kept, and a trailing `.` or `..` segment leaves one. Never empty.
 */
function resolveSegments(path: string, stripParams: boolean): string {
  const segments = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    let seg = segments[i] as string;
    if (stripParams) {
      const semi = seg.indexOf(';');
      if (semi !== -1) seg = seg.slice(0, semi);
    }
    if (seg === '' || seg === '.') {
      if (i === last) trailingSlash = true;
    } else if (seg === '..') {
      out.pop();
      if (i === last) trailingSlash = true;
    } else {
      out.push(seg);
    }
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}

/**
 * Normalises a raw HTTP request target (Node's req.url, e.g. "/a/./b?x=1").
 *
 * `path` is what the gateway both matches routes on and forwards. `query` is everything from
 * the first `?` on (including it), verbatim, or `''`. `altPath` is set only when `path`
 * contains `;`: the servlet-container reading with `;`-parameters removed from each segment
 * and dot segments resolved again; the caller refuses the request when it routes differently.
 */
export function normaliseTarget(target: string): TargetResult {
  // Rule 1: origin-form only.
  if (target.length === 0) return reject('empty request target');
  if (target.charCodeAt(0) !== CH_SLASH) {
    return reject(
      target === '*'
        ? 'asterisk-form request target (*) is not supported'
        : 'request target must be origin-form starting with "/" (absolute-form is not supported)',
    );
  }

  // Rules 2 and 3 plus the fast-path scan, in one pass over the target.
  let queryStart = -1;
  let simple = true; // path has no '%', '\', ';', '//' or '/.'
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c < CH_BANG || c > CH_TILDE) return reject('control, space or non-ASCII character in request target');
    if (c === CH_HASH) return reject('fragment (#) in request target');
    if (queryStart !== -1) continue;
    if (c === CH_QUESTION) {
      queryStart = i;
    } else if (c === CH_PERCENT || c === CH_BACKSLASH || c === CH_SEMI) {
      simple = false;
    } else if (c === CH_SLASH) {
      const n = target.charCodeAt(i + 1);
      if (n === CH_SLASH || n === CH_DOT) simple = false;
    }
  }

  const rawPath = queryStart === -1 ? target : target.slice(0, queryStart);
  const query = queryStart === -1 ? '' : target.slice(queryStart);

  if (simple) {
    // Fast path: already canonical, and without ';' there is no alternative reading.
    if (rawPath.length > MAX_PATH_LENGTH) return reject(`path too long (over ${MAX_PATH_LENGTH} characters)`);
    return { ok: true, path: rawPath, query, altPath: undefined };
  }

  // Rule 4: backslash and percent-encodings.
  if (rawPath.includes('\\')) return reject('backslash in path');
  const decoded = canonicalisePercent(rawPath);
  if (!decoded.ok) return decoded;

  // Rules 5-7: merge slashes, remove dot segments, never empty, keep a trailing slash.
  const path = resolveSegments(decoded.path, false);

  // Rule 8.
  if (path.length > MAX_PATH_LENGTH) return reject(`path too long (over ${MAX_PATH_LENGTH} characters)`);

  const altPath = path.includes(';') ? resolveSegments(path, true) : undefined;
  return { ok: true, path, query, altPath };
}

const PREFIX_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]+$/;

/**
 * True when `prefix` is a valid route path prefix in canonical form: starts with `/`, only
 * `[A-Za-z0-9-._~!$&'()*+,=:@/]` (so no `%`, `;`, `?` or `#`), at most 1024 characters, is
 * its own normalisation (no `//`, `.` or `..` segments), and is `/` or does not end with `/`.
 */
export function isCanonicalPrefix(prefix: string): boolean {
  if (prefix.length === 0 || prefix.length > MAX_PREFIX_LENGTH) return false;
  if (!PREFIX_CHARS.test(prefix)) return false; // also excludes '%', ';', '?', '#'
  if (prefix !== '/' && prefix.endsWith('/')) return false;
  const result = normaliseTarget(prefix);
  return result.ok && result.query === '' && result.path === prefix;
}
