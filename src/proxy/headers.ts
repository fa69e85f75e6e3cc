import type { IncomingMessage } from 'node:http';
import type { TrustedProxies } from './trusted-proxies.js';
import type { Upstream } from '../backends/upstream.js';

/**
 * Headers meaningful only for one connection (RFC 9110 §7.6.1), plus those the gateway sets
 * itself. None of them is forwarded as received.
 */
const NOT_FORWARDED_REQUEST = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
  'expect', // answered by the gateway itself (100-continue)
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'x-strangler-deadline-ms', // replaced by the time actually left
  'x-strangler-shadow', // marks the gateway's shadow copies: a client must not pass its request off as one
]);

const NOT_FORWARDED_RESPONSE = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-request-id',
  'x-strangler-backend',
  'x-strangler-route',
  'x-strangler-fallback',
]);

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The client's X-Request-Id when it is sane, else undefined (the caller generates one). */
export function clientRequestId(req: IncomingMessage): string | undefined {
  const id = req.headers['x-request-id'];
  return typeof id === 'string' && REQUEST_ID.test(id) ? id : undefined;
}

/** The Connection values nearly every message carries, which name no other header. */
const PLAIN_CONNECTION = /^\s*(keep-alive|close)\s*$/i;

/** Tokens named in a Connection header are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionTokens(value: string | undefined): Set<string> | undefined {
  if (value === undefined || PLAIN_CONNECTION.test(value)) return undefined;
  const tokens = value
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && t !== 'keep-alive' && t !== 'close');
  return tokens.length === 0 ? undefined : new Set(tokens);
}

/**
 * The flat [name, value, …] list to send upstream: end-to-end headers plus the gateway's own.
 * X-Forwarded-* sent by the client are replaced, unless the peer is a trusted proxy: then the
 * peer is appended to its X-Forwarded-For and its -Proto and -Host are kept.
 */
export function upstreamRequestHeaders(req: IncomingMessage, requestId: string, trusted?: TrustedProxies): string[] {
  const raw = req.rawHeaders;
  const listed = connectionTokens(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (NOT_FORWARDED_REQUEST.has(name) || listed?.has(name)) continue;
    out.push(name, raw[i + 1]!);
  }
  const chain = trusted !== undefined && trusted.trusts(req.socket.remoteAddress) ? req.headers : undefined;
  const forwardedFor = chain?.['x-forwarded-for'];
  out.push(
    'x-forwarded-for',
    forwardedFor ? `${forwardedFor}, ${clientAddress(req)}` : clientAddress(req),
    'x-forwarded-proto',
    firstOf(chain?.['x-forwarded-proto']) ?? ('encrypted' in req.socket ? 'https' : 'http'),
    'x-request-id',
    requestId,
  );
  const host = firstOf(chain?.['x-forwarded-host']) ?? req.headers.host;
  if (host !== undefined) out.push('x-forwarded-host', host);
  return out;
}

/**
 * The `Host` to send `upstream`: the client's in `client` mode (when it sent one: HTTP/1.0 may
 * not), else the backend's own authority, as undici would send without one.
 */
export function upstreamHost(upstream: Pick<Upstream, 'hostHeader' | 'authority'>, clientHost: string | undefined): string {
  return upstream.hostHeader === 'client' && clientHost ? clientHost : upstream.authority;
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value || undefined;
}

/**
 * False when the request has two Host headers (Node keeps only the first; a backend might read
 * the other), or none on HTTP/1.1, which requires it (RFC 9112 §3.2).
 */
export function hasOneHost(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  return hosts === 1 || (hosts === 0 && req.httpVersionMinor === 0);
}

/**
 * The flat [name, value, …] list to send the client, from undici's raw response headers.
 * Upstream values are kept byte for byte (latin1), duplicates such as Set-Cookie included.
 */
export function clientResponseHeaders(raw: Buffer[], extra: string[]): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  let contentLengthAt = -1;
  let dispositionAfterLength = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    if (name === 'connection') listed = connectionTokens(raw[i + 1]!.toString('latin1'));
    if (NOT_FORWARDED_RESPONSE.has(name)) continue;
    if (name === 'content-length' && contentLengthAt < 0) contentLengthAt = out.length;
    else if (name === 'content-disposition' && contentLengthAt >= 0) dispositionAfterLength = true;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (listed !== undefined) removeNamed(out, listed);
  if (dispositionAfterLength) dispositionFirst(out);
  for (let i = 0; i < extra.length; i++) out.push(extra[i]!);
  return out;
}

/**
 * Moves Content-Disposition ahead of Content-Length. Node re-encodes a Content-Disposition
 * value written after a Content-Length (it turns the string into UTF-8 bytes, nodejs/node#46528),
 * which sends Latin-1 bytes as nothing at all (ERR_INVALID_CHAR) and UTF-8 bytes as Latin-1.
 * Written before it, the value passes byte for byte. The order of different field names
 * carries no meaning (RFC 9110 §5.3).
 */
function dispositionFirst(flat: string[]): void {
  const moved: string[] = [];
  for (let i = 0; i < flat.length; ) {
    if (flat[i] === 'content-disposition') moved.push(...flat.splice(i, 2));
    else i += 2;
  }
  let at = 0;
  while (at < flat.length && flat[at] !== 'content-length') at += 2;
  flat.splice(at, 0, ...moved);
}

function removeNamed(flat: string[], names: Set<string>): void {
  for (let i = flat.length - 2; i >= 0; i -= 2) if (names.has(flat[i]!)) flat.splice(i, 2);
}

function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
