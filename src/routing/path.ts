/**
 * Request-target normalisation.
 *
 * The gateway must match a route and forward the request under ONE interpretation of the path,
 * otherwise `/public/../orders` is routed as `/public` but served by the backend as `/orders`.
 * So: normalise once (dot segments removed, unreserved characters decoded), match on exactly
 * the string that is forwarded, and refuse what no backend should see (bad encodings, NUL and
 * control characters, invalid UTF-8). Where backends differ among themselves (`%2F` and `%5C`
 * decoded or not, `\` read as `/` or not, `//` merged or not, `;` parameters stripped or not),
 * the path is forwarded as the client sent it, and `readingsOf` lists the other readings, which
 * the caller requires to select the same route (else it refuses the request).
 *
 * Pure functions: no I/O, no clock, no randomness.
 */

export type TargetResult =
  | {
      ok: true;
      /** What is matched and forwarded: the client's path, dot segments removed, unreserved characters decoded. */
      path: string;
      query: string;
      /** True when `path` has parts backends read differently (`%2F`, `%5C`, `\`, `//`, `;`): see readingsOf. */
      ambiguous: boolean;
    }
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

/** What backends disagree on: an encoded slash or backslash, a backslash, an empty segment, a `;`. */
const AMBIGUOUS = /%2f|%5c|\\|\/\/|;/i;

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
 * Checks and simplifies percent-encodings in a path: decodes unreserved characters, refuses
 * malformed escapes, encoded NUL and control characters, and checks that encoded bytes >= 0x80
 * form valid UTF-8. Everything else that is encoded stays as the client wrote it (`%2F`, `%5C`,
 * `%3B`, `%25`, the hex digits' case). Never decodes `%25`.
 */
function canonicalisePercent(path: string): Decoded {
  let out = '';
  let start = 0; // start of the literal run not yet copied to `out`
  let i = path.indexOf('%');
  while (i !== -1) {
    out += path.slice(start, i);
    const byte = readEncoded(path, i);
    if (byte < 0) return { ok: false, reason: 'malformed percent-encoding in path (% must be followed by two hex digits)' };
    if (byte === 0x00) return { ok: false, reason: 'encoded NUL (%00) in path' };
    if (byte < 0x20 || byte === 0x7f) return { ok: false, reason: 'encoded control character in path' };
    if (byte < 0x80) {
      out += isUnreserved(byte) ? String.fromCharCode(byte) : path.slice(i, i + 3);
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
      out += path.slice(i - 3 * bytes.length, i);
    }
    start = i;
    i = path.indexOf('%', i);
  }
  return { ok: true, path: out + path.slice(start) };
}

/**
 * Removes `.` and `..` segments (RFC 3986 §5.2.4); with `merge`, also empty segments (runs of
 * `/`, as servers that merge slashes read them). `path` starts with `/`. A trailing slash is
 * kept, and a trailing `.` or `..` segment leaves one. Never empty.
 */
function resolveSegments(path: string, merge: boolean): string {
  const segments = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const seg = segments[i] as string;
    if (seg === '.' || (seg === '' && merge)) {
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

/** Each segment without its `;` parameters, as servlet containers read it. */
function stripParams(path: string): string {
  return path
    .split('/')
    .map((seg) => {
      const semi = seg.indexOf(';');
      return semi === -1 ? seg : seg.slice(0, semi);
    })
    .join('/');
}

/**
 * Every other way a backend may read `path` (a `path` of normaliseTarget), each with its dot
 * segments resolved again: `%2F` decoded to `/`; `%5C` and `\` read as `/` (IIS, WHATWG URL
 * parsers); `;` parameters stripped before or after that decoding (servlet containers); runs of
 * `/` merged or kept; a leading `//` read as an authority (WHATWG URL parsers, so
 * `new URL(req.url, base)` in the application). Only the readings that differ from `path` are
 * listed. At most 36 strings, computed only for an ambiguous path; the common path never gets here.
 */
export function readingsOf(path: string): string[] {
  const slash = /%2f/i.test(path);
  const backslash = /%5c|\\/i.test(path);
  const params = path.includes(';');
  const readings = new Set<string>();
  for (const decodeSlash of slash ? [false, true] : [false]) {
    for (const asSlash of backslash ? [false, true] : [false]) {
      for (const strip of params ? (['no', 'before', 'after'] as const) : (['no'] as const)) {
        let reading = strip === 'before' ? stripParams(path) : path;
        if (decodeSlash) reading = reading.replace(/%2f/gi, '/');
        if (asSlash) reading = reading.replace(/%5c|\\/gi, '/');
        if (strip === 'after') reading = stripParams(reading);
        readings.add(resolveSegments(reading, false));
        if (reading.includes('//')) readings.add(resolveSegments(reading, true));
        // `new URL('//host/x', base)` takes a leading `//` as an authority: the path is `/x`.
        if (reading.startsWith('//')) {
          const end = reading.indexOf('/', 2);
          readings.add(end === -1 ? '/' : resolveSegments(reading.slice(end), false));
        }
      }
    }
  }
  readings.delete(path);
  return [...readings];
}

/**
 * Normalises a raw HTTP request target (Node's req.url, e.g. "/a/./b?x=1").
 *
 * `path` is what the gateway both matches routes on and forwards: the client's path with dot
 * segments removed and unreserved characters decoded, nothing else changed. `query` is
 * everything from the first `?` on (including it), verbatim, or `''`. `ambiguous` says the
 * caller must check `readingsOf(path)`: every one must select the route `path` selects.
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
    return { ok: true, path: rawPath, query, ambiguous: false };
  }

  // Rule 4: percent-encodings.
  const decoded = canonicalisePercent(rawPath);
  if (!decoded.ok) return decoded;

  // Rules 5-7: remove dot segments (empty segments stay), never empty, keep a trailing slash.
  const path = resolveSegments(decoded.path, false);

  // Rule 8.
  if (path.length > MAX_PATH_LENGTH) return reject(`path too long (over ${MAX_PATH_LENGTH} characters)`);

  return { ok: true, path, query, ambiguous: AMBIGUOUS.test(path) };
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
  if (prefix.includes('//')) return false;
  const result = normaliseTarget(prefix);
  return result.ok && result.query === '' && result.path === prefix;
}
