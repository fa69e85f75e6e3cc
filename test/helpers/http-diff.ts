import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { WireResponse } from './wire.js';

/**
 * Compares an application's answer sent directly with its answer through the gateway, after
 * removing exactly what the README ("What the data plane does to a request") lists as changed.
 * Every other difference is reported. Pure.
 */

/** Response headers the gateway's hop owns (framing, connection) or adds; never compared. */
const NOT_COMPARED = new Set([
  'connection', // hop-by-hop: each connection has its own
  'keep-alive',
  'proxy-connection',
  'transfer-encoding', // bodies are re-framed; the de-framed bytes are compared
  'date', // the application's clock, not the gateway: two direct calls differ too
  'x-strangler-backend', // the gateway's own
  'x-strangler-route',
  'x-strangler-upstream',
  'x-strangler-fallback',
  'x-request-id',
]);

/**
 * Request headers an application echoes that the gateway sets or drops: X-Forwarded-*,
 * X-Request-Id and the deadline are added; hop-by-hop ones belong to the gateway's connection
 * to the backend (`Connection: keep-alive`) and are not forwarded (`Upgrade: h2c`, `TE`, …).
 */
const ECHO_NOT_COMPARED = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'x-strangler-deadline-ms',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'upgrade',
  'http2-settings',
  'expect',
  'transfer-encoding', // request bodies are re-framed too: chunked may arrive with a Content-Length, and
  'content-length', // the other way round; the echoed body itself is compared
]);

const UNRESERVED = /%(4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9A]|3[0-9]|2D|2E|5F|7E)/gi;

/** The canonical form of a path the gateway forwards: unreserved characters decoded, dot segments removed. */
function canonicalUrl(url: string): string {
  const match = /^(https?:\/\/[^/]*)([^?]*)(.*)$/.exec(url);
  if (match === null) return url;
  const decoded = match[2]!.replace(UNRESERVED, (e) => String.fromCharCode(parseInt(e.slice(1), 16)));
  const out: string[] = [];
  const segments = decoded.split('/').slice(1);
  segments.forEach((seg, i) => {
    if (seg === '..') out.pop();
    else if (seg !== '.') out.push(seg);
    if ((seg === '.' || seg === '..') && i === segments.length - 1) out.push('');
  });
  return match[1]! + '/' + out.join('/') + match[3]!;
}

/** What a case tells the comparison about itself. */
export interface DiffOptions {
  /** The answer echoes the request (httpbin's /get, /anything, …): a HEAD answer's Content-Length then counts the headers the gateway adds. */
  echoesRequest?: boolean;
  /** The request had no Host (HTTP/1.0): the gateway sends the backend its own authority, so the echo shows a Host. */
  noClientHost?: boolean;
}

/** An echoed request with the gateway's own changes taken out; anything else stays as it is. */
function normaliseEcho(value: unknown, options: DiffOptions): unknown {
  if (Array.isArray(value)) return value.map((v) => normaliseEcho(v, options));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const ignored = (h: string) => ECHO_NOT_COMPARED.has(h.toLowerCase()) || (options.noClientHost === true && h.toLowerCase() === 'host');
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key === 'headers' && v !== null && typeof v === 'object') {
      out[key] = Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([h]) => !ignored(h)));
    } else if (key === 'url' && typeof v === 'string') {
      out[key] = canonicalUrl(v);
    } else {
      out[key] = normaliseEcho(v, options);
    }
  }
  return out;
}

function decode(body: Buffer, encoding: string | undefined): Buffer | undefined {
  try {
    if (encoding === 'gzip') return gunzipSync(body);
    if (encoding === 'deflate') return inflateSync(body);
    if (encoding === 'br') return brotliDecompressSync(body);
  } catch {
    return undefined;
  }
  return encoding === undefined ? body : undefined;
}

/**
 * The body as compared: JSON (and newline-delimited JSON) bodies with the echoed request
 * normalised, decompressed when the application compressed them (gzip headers carry a
 * timestamp, so two direct calls differ too); other bodies byte for byte.
 * `rewritten` says whether anything was taken out, so Content-Length no longer applies.
 */
function comparableBody(res: WireResponse, options: DiffOptions): { body: string; rewritten: boolean } {
  const encoding = header(res, 'content-encoding');
  const plain = decode(res.body, encoding);
  if (plain === undefined) return { body: res.body.toString('latin1'), rewritten: false };
  const text = plain.toString('utf8');
  const lines = text.split('\n');
  let rewritten = encoding !== undefined;
  const normalise = (json: string) => {
    const parsed: unknown = JSON.parse(json);
    const normalised = JSON.stringify(normaliseEcho(parsed, options));
    if (normalised !== JSON.stringify(parsed)) rewritten = true;
    return normalised;
  };
  try {
    const normalised = lines.map((line) => (line === '' ? '' : normalise(line)));
    return { body: rewritten ? normalised.join('\n') : res.body.toString('latin1'), rewritten };
  } catch {
    // not (line-delimited) JSON
  }
  try {
    const normalised = normalise(text);
    return { body: rewritten ? normalised : res.body.toString('latin1'), rewritten };
  } catch {
    return encoding === undefined ? { body: res.body.toString('latin1'), rewritten: false } : { body: text, rewritten: true };
  }
}

function header(res: WireResponse, name: string): string | undefined {
  return res.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** Every difference between the direct and the proxied answer that the README does not list. */
export function differences(direct: WireResponse | undefined, proxied: WireResponse | undefined, options: DiffOptions = {}): string[] {
  if (direct === undefined || proxied === undefined) {
    return direct === proxied ? [] : [`answer: ${direct ? direct.status : 'none'} directly, ${proxied ? proxied.status : 'none'} through the gateway`];
  }
  const diffs: string[] = [];
  // Status code compared; reason phrase regenerated and HTTP/1.0 answered as HTTP/1.1 (README).
  if (direct.status !== proxied.status) diffs.push(`status ${direct.status} → ${proxied.status}`);
  const a = comparableBody(direct, options);
  const b = comparableBody(proxied, options);
  const bodiless = direct.framing === 'none' && options.echoesRequest === true;
  const skip = (name: string) => NOT_COMPARED.has(name) || (name === 'content-length' && (a.rewritten || b.rewritten || bodiless));
  // Header names compared lower-cased (Node writes them so); values byte for byte, in order
  // among fields of one name (the order of different names carries no meaning, RFC 9110 §5.3).
  const list = (res: WireResponse) =>
    res.headers
      .map(([n, v]) => [n.toLowerCase(), v] as const)
      .filter(([n]) => !skip(n))
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  const ha = list(direct);
  const hb = list(proxied);
  const shown = (h: readonly (readonly [string, string])[]) => h.map(([n, v]) => `${n}: ${JSON.stringify(v)}`).join(', ');
  if (shown(ha) !== shown(hb)) {
    const left = ha.filter(([n, v]) => !hb.some(([m, w]) => m === n && w === v));
    const right = hb.filter(([n, v]) => !ha.some(([m, w]) => m === n && w === v));
    diffs.push(left.length + right.length === 0 ? `header order: ${shown(ha)} → ${shown(hb)}` : `headers: [${shown(left)}] → [${shown(right)}]`);
  }
  if (a.body !== b.body) diffs.push(`body (${a.body.length} → ${b.body.length} chars): ${firstDifference(a.body, b.body)}`);
  return diffs;
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 40);
  return `${JSON.stringify(a.slice(from, i + 60))} → ${JSON.stringify(b.slice(from, i + 60))}`;
}
