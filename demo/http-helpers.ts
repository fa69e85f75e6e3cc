/**
 * The small HTTP toolkit shared by the two demo backends (legacy/ and modern/).
 *
 * The backends exist only to give the gateway something realistic to route to, so they stay on
 * bare node:http: no framework can then normalise, add or hide anything the gateway forwarded.
 */
import type { IncomingMessage, OutgoingHttpHeaders, RequestListener, Server, ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';

/** Who answered, and the fields every successful answer of that backend carries. */
export interface Backend {
  /** `legacy`, `modern`, or the name of another demo service (`users-svc`). */
  servedBy: string;
  /** Added to every successful answer (the modern service stamps its `apiVersion`). */
  extra?: Record<string, unknown>;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** The request target exactly as received, query included: what the gateway forwarded. */
  url: string;
  /** `url` without its query, used for matching. */
  pathname: string;
  params: Record<string, string>;
}

export type Handler = (ctx: RequestContext) => void | Promise<void>;

export interface Route {
  /** An HTTP method, or `*` for any. A GET route also answers HEAD. */
  method: string;
  /** Segments; `:name` captures one segment, a final `*` matches the rest (including nothing). */
  pattern: string;
  handler: Handler;
}

/** An error whose status and message are fit to show the client. */
export class HttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
  }
}

/** Large enough for any demo body, small enough that a runaway client cannot exhaust memory. */
export const MAX_BODY_BYTES = 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendNotFound(res: ServerResponse, backend: Backend, path: string): void {
  sendJson(res, 404, { servedBy: backend.servedBy, error: 'not found', path });
}

/** The fields every successful answer starts with, so a reader sees who answered which request. */
export function envelope(backend: Backend, ctx: RequestContext): Record<string, unknown> {
  return { servedBy: backend.servedBy, ...backend.extra, method: ctx.method, path: ctx.url };
}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        // Keep draining rather than destroying the request, so the client still gets the 413.
        req.removeAllListeners('data');
        req.resume();
        reject(new HttpError(413, `body larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export type JsonParseResult = { ok: true; value: unknown } | { ok: false };

/** A result rather than a throw, because each caller words its 400 in its own error format. */
export function parseJson(text: string): JsonParseResult {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** Answers every request with what arrived: tests and the demo use it to see what the gateway forwarded. */
export function echoHandler(backend: Backend): Handler {
  return async (ctx) => {
    const body = await readBody(ctx.req);
    sendJson(ctx.res, 200, { ...envelope(backend, ctx), headers: ctx.req.headers, body });
  };
}

export function listHandler(backend: Backend, key: string, items: readonly unknown[]): Handler {
  return (ctx) => sendJson(ctx.res, 200, { ...envelope(backend, ctx), [key]: items });
}

/** Answers the item whose id (as text) equals the `:id` segment, or 404. */
export function itemHandler<T>(backend: Backend, key: string, items: readonly T[], idOf: (item: T) => string | number): Handler {
  return (ctx) => {
    const item = items.find((candidate) => String(idOf(candidate)) === ctx.params.id);
    if (item === undefined) {
      sendNotFound(ctx.res, backend, ctx.url);
      return;
    }
    sendJson(ctx.res, 200, { ...envelope(backend, ctx), [key]: item });
  };
}

/**
 * Parses a JSON body and answers 201 with the record `build` makes of it. The record is not
 * stored: the demo backends stay stateless, so a benchmark hammering POST cannot grow them.
 */
export function createHandler(backend: Backend, key: string, build: (received: unknown) => object): Handler {
  return async (ctx) => {
    const parsed = parseJson(await readBody(ctx.req));
    if (!parsed.ok) {
      sendJson(ctx.res, 400, { servedBy: backend.servedBy, error: 'body is not valid JSON', path: ctx.url });
      return;
    }
    sendJson(ctx.res, 201, { ...envelope(backend, ctx), [key]: build(parsed.value) });
  };
}

function segmentsOf(path: string): string[] {
  return path.split('/').filter((segment) => segment !== '');
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed escapes are matched as sent rather than failing the request
  }
}

/** The captured params if `pathname` matches `pattern`, otherwise undefined. */
export function matchPath(pattern: string, pathname: string): Record<string, string> | undefined {
  const wanted = segmentsOf(pattern);
  const got = segmentsOf(pathname);
  const params: Record<string, string> = {};
  for (const [index, want] of wanted.entries()) {
    if (want === '*' && index === wanted.length - 1) return params;
    const segment = got[index];
    if (segment === undefined) return undefined;
    if (want.startsWith(':')) params[want.slice(1)] = decodeSegment(segment);
    else if (want !== segment) return undefined;
  }
  return got.length === wanted.length ? params : undefined;
}

function methodMatches(routeMethod: string, method: string): boolean {
  return routeMethod === '*' || routeMethod === method || (routeMethod === 'GET' && method === 'HEAD');
}

function sendError(res: ServerResponse, backend: Backend, err: unknown): void {
  if (res.headersSent) {
    res.destroy(); // too late for a clean error answer; a cut connection is at least unambiguous
    return;
  }
  if (err instanceof HttpError) {
    // After a 413 the rest of the body is still in flight: close rather than reuse the connection.
    const headers = err.status === 413 ? { connection: 'close' } : {};
    sendJson(res, err.status, { servedBy: backend.servedBy, error: err.message }, headers);
    return;
  }
  console.error(`${backend.servedBy} demo: unexpected error`, err);
  sendJson(res, 500, { servedBy: backend.servedBy, error: 'internal error' });
}

/** A request listener trying `routes` in order; unknown paths get 404, known paths with another method 405. */
export function createRouter(backend: Backend, routes: readonly Route[]): RequestListener {
  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const pathname = url.split('?')[0] ?? '/';
    const allowed: string[] = [];
    for (const route of routes) {
      const params = matchPath(route.pattern, pathname);
      if (params === undefined) continue;
      if (methodMatches(route.method, method)) {
        await route.handler({ req, res, method, url, pathname, params });
        return;
      }
      allowed.push(route.method);
    }
    if (allowed.length === 0) {
      sendNotFound(res, backend, url);
      return;
    }
    sendJson(res, 405, { servedBy: backend.servedBy, error: 'method not allowed', method, path: url }, { allow: allowed.join(', ') });
  }

  return (req, res) => {
    dispatch(req, res).catch((err: unknown) => sendError(res, backend, err));
  };
}

/** True when the module at `moduleUrl` is the script node was started with (not imported by a test). */
export function isDirectRun(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && moduleUrl === pathToFileURL(script).href;
}

function portFromEnv(defaultPort: number): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return defaultPort;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer from 0 to 65535, got "${raw}"`);
  return port;
}

/** Listens on PORT / HOST from the environment and logs the one line scripts wait for. */
export function listenFromEnv(server: Server, name: string, defaultPort: number): void {
  const host = process.env.HOST || '127.0.0.1';
  const port = portFromEnv(defaultPort);
  server.once('error', (err) => {
    console.error(`${name} demo could not listen on ${host}:${port}: ${err.message}`);
    process.exitCode = 1;
  });
  server.listen(port, host, () => {
    const address = server.address();
    // Report the bound port, which differs from PORT when PORT=0 asked for any free one.
    const boundPort = typeof address === 'object' && address !== null ? address.port : port;
    console.log(`${name} demo listening on http://${host}:${boundPort}`);
  });
}
