import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { systemClock, systemRandom, type Clock, type Random } from '../clock.js';
import type { TrafficSample } from '../observe/traffic-window.js';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import { FIXED_HEDGE_DELAYS, type HedgeTiming } from '../resilience/hedge-delay.js';
import { DEFAULT_RESILIENCE, DEFAULT_ROUTE_SETTINGS } from '../routing/schema.js';
import type { LiveRoutes } from '../routing/live-routes.js';
import { Exchange, type ExchangeContext, type ExchangeOutcome } from './exchange.js';
import { ERRORS, errorJson, type ErrorCode } from '../errors.js';
import { hasBody, sendError, type ForwardOutcome } from './forward.js';
import { clientRequestId, hasOneHost, upstreamHost, upstreamRequestHeaders } from './headers.js';
import { DEFAULT_LIMITS, limitedBody, type RequestLimits } from './limits.js';
import type { TrustedProxies } from './trusted-proxies.js';
import { resolve, type Resolution } from './resolve.js';
import type { LiveBackends } from '../backends/live-backends.js';
import { serveWithoutUpgrade } from './ignored-upgrade.js';
import { UpgradeHandler, rejectUpgrade } from './websocket.js';
import type { ShadowCopier } from '../shadow/shadowing.js';
import type { CopyDecision } from '../shadow/sampling.js';

export interface ProxyOptions {
  routes: Pick<LiveRoutes, 'current'>;
  backends: LiveBackends;
  logger: Logger;
  /** One line per request at info; undefined turns the access log off (failures are still logged). */
  accessLogger: Logger | undefined;
  breakers: BreakerRegistry;
  /** Each route's hedge delay (default: `hedgeAfterMs` as it is, no percentiles). */
  hedging?: HedgeTiming;
  /** Told of every request once it ends: metrics and the status window count them. */
  observer?: RequestObserver;
  clock?: Clock;
  random?: Random;
  /** Idle keep-alive time for client connections; keep it above any load balancer's idle timeout. */
  keepAliveTimeoutMs?: number;
  /** Sizes and timeouts of client requests (default DEFAULT_LIMITS). */
  limits?: Partial<RequestLimits>;
  /** Peers whose X-Forwarded-* headers are appended to rather than replaced; undefined trusts nobody. */
  trustedProxies?: TrustedProxies | undefined;
  /** Copies requests of routes in shadow mode to modern; without it, shadow routes are served as legacy routes. */
  shadow?: ShadowCopier | undefined;
}

export interface RequestObserver {
  finished(sample: TrafficSample): void;
  /** A request refused before a backend was chosen (bad target, too large, no Host). */
  refused(code: ErrorCode): void;
}

const NO_OBSERVER: RequestObserver = { finished: () => {}, refused: () => {} };

/**
 * The data plane: a plain node:http server whose handler resolves each request once and
 * streams it to the chosen backend through undici. Nothing on this path queries the
 * database or logs synchronously.
 */
export class ProxyServer {
  readonly server: http.Server;
  private readonly routes: Pick<LiveRoutes, 'current'>;
  private readonly backends: LiveBackends;
  private readonly logger: Logger;
  private readonly accessLogger: Logger | undefined;
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly breakers: BreakerRegistry;
  private readonly observer: RequestObserver;
  private readonly exchangeContext: ExchangeContext;
  private readonly upgraded = new Set<Duplex>();
  private readonly limits: RequestLimits;
  private readonly trustedProxies: TrustedProxies | undefined;
  private readonly shadow: ShadowCopier | undefined;
  private draining = false;

  constructor(options: ProxyOptions) {
    this.routes = options.routes;
    this.backends = options.backends;
    this.logger = options.logger;
    this.accessLogger = options.accessLogger;
    this.random = options.random ?? systemRandom;
    this.clock = options.clock ?? systemClock;
    this.breakers = options.breakers;
    this.observer = options.observer ?? NO_OBSERVER;
    this.exchangeContext = {
      backends: this.backends,
      breakers: this.breakers,
      hedging: options.hedging ?? FIXED_HEDGE_DELAYS,
      clock: this.clock,
      random: this.random,
      draining: () => this.draining,
    };
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.trustedProxies = options.trustedProxies;
    this.shadow = options.shadow;
    this.server = http.createServer(
      {
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 65_000,
        headersTimeout: this.limits.headersTimeoutMs,
        requestTimeout: this.limits.requestTimeoutMs,
        // Node checks the two timeouts on this interval (default 30 s): a slowloris socket must not outlive its limit by that much.
        connectionsCheckingInterval: Math.min(1_000, this.limits.headersTimeoutMs),
        maxHeaderSize: this.limits.maxHeaderBytes,
        requireHostHeader: false, // checked in handleRequest, to answer in JSON like every other refusal
      },
      (req, res) => this.handleRequest(req, res, false),
    );
    // Past the bound, new connections are closed at accept: answering them would spend what the bound protects.
    this.server.maxConnections = this.limits.maxConnections;
    // With a Content-Length over the limit, refuse before the client sends the body.
    this.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.handleRequest(req, res, true));
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.handleUpgrade(req, socket, head),
    );
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.handleClientError(err, socket));
  }

  private handleRequest(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    // A request pipelined behind one answered with `Connection: close` must not run (RFC 9112 §9.6).
    if ((req.socket as ClosingSocket)[CLOSING] === true) return void req.resume();
    const start = performance.now();
    const requestId = clientRequestId(req) ?? randomUUID();
    if (req.url!.length > this.limits.maxUrlBytes) {
      return this.refuse(req, res, requestId, start, 'URI_TOO_LONG', `request target over ${this.limits.maxUrlBytes} bytes`);
    }
    // Two Host headers are read differently by different servers (request smuggling); HTTP/1.1 requires one.
    if (!hasOneHost(req)) return this.refuse(req, res, requestId, start, 'BAD_REQUEST', 'exactly one Host header is required');
    const resolution = resolve(req, this.routes.current, this.random);
    if ('refused' in resolution) {
      return this.refuse(req, res, requestId, start, 'BAD_REQUEST_TARGET', `bad request target: ${resolution.refused}`);
    }
    const maxBody = resolution.route?.maxBodyBytes ?? this.limits.maxBodyBytes;
    if (maxBody !== null && Number(req.headers['content-length']) > maxBody) {
      return this.refuse(req, res, requestId, start, 'BODY_TOO_LARGE', `the request body is larger than ${maxBody} bytes`);
    }
    if (expectsContinue) res.writeContinue();
    const route = resolution.route;
    const shadow = route?.mode === 'shadow' ? this.shadow?.decide(req, route) : undefined;
    const exchange = (body: Buffer | Readable | null) => {
      const headers = upstreamRequestHeaders(req, requestId, this.trustedProxies);
      // decide() admits only bodies of known length under the replay buffer: `body` is a Buffer or null.
      const tap = shadow?.copy ? this.shadow!.begin(req, route!, shadow, resolution.target, body as Buffer | null, headers) : undefined;
      new Exchange(
        this.exchangeContext,
        req,
        res,
        resolution,
        body,
        headers,
        this.clientHeaders(resolution, requestId),
        (outcome) => this.logAccess(req, requestId, resolution, start, outcome),
        tap,
      ).start();
    };
    if (!hasBody(req)) return exchange(null);
    if (req.headers['content-length'] === undefined) {
      // Chunked: under a limit, count what streams; past it the answer is 413 and the connection closes.
      return exchange(maxBody === null ? req : limitedBody(req, maxBody, () => closeAfter(req, res)));
    }
    if (!mayReplay(req, resolution, shadow)) return exchange(req);
    readBody(req, REPLAY_BUFFER_BYTES).then(exchange, () => res.destroy());
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Any other upgrade (h2c) is ignored: the request is served over HTTP/1.1 (ignored-upgrade.ts).
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') return serveWithoutUpgrade(this.server, req, socket, head);
    const start = performance.now();
    const requestId = clientRequestId(req) ?? randomUUID();
    const resolution = resolve(req, this.routes.current, this.random);
    if ('refused' in resolution) {
      rejectUpgrade(socket, 'BAD_REQUEST_TARGET', `bad request target: ${resolution.refused}`, this.baseHeaders(requestId));
      return;
    }
    const upstream = this.backends.forSide(resolution.route, resolution.backend);
    if (upstream === undefined) {
      rejectUpgrade(socket, 'UPSTREAM_CONNECT_ERROR', `backend for the ${resolution.backend} side is not loaded yet`, this.baseHeaders(requestId));
      return;
    }
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    const clientHeaders = [...this.clientHeaders(resolution, requestId), 'x-strangler-backend', resolution.backend, 'x-strangler-upstream', upstream.name];
    const handler = new UpgradeHandler(socket, head, clientHeaders, (outcome) =>
      this.logAccess(req, requestId, resolution, start, { ...outcome, backend: resolution.backend, upstream: upstream.name }),
    );
    upstream.pool.dispatch(
      {
        path: upstream.basePath + resolution.target,
        method: req.method!,
        headers: [...upstreamRequestHeaders(req, requestId, this.trustedProxies), 'host', upstreamHost(upstream, req.headers.host)],
        upgrade: 'websocket',
        headersTimeout: resolution.route?.timeoutMs ?? DEFAULT_ROUTE_SETTINGS.timeoutMs,
      },
      handler,
    );
  }

  /** Refuses a request before any backend sees it, as JSON, and logs it. */
  private refuse(req: IncomingMessage, res: ServerResponse, requestId: string, start: number, code: ErrorCode, message: string): void {
    // The body, if any, is not forwarded: close the connection after it (sendError reads what the client still sends, within a bound).
    if (code !== 'BAD_REQUEST_TARGET' || hasBody(req)) closeAfter(req, res);
    sendError(res, code, message, this.baseHeaders(requestId));
    this.observer.refused(code);
    this.logAccess(req, requestId, undefined, start, { status: ERRORS[code].status });
  }

  /** Malformed HTTP, oversized heads and timed-out requests get JSON instead of Node's bare answers. */
  private handleClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    const responding = (socket as { _httpMessage?: ServerResponse })._httpMessage?.headersSent === true;
    if (err.code === 'ECONNRESET' || !socket.writable || responding) return void socket.destroy();
    const code: ErrorCode =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? 'HEADERS_TOO_LARGE'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 'REQUEST_TIMEOUT'
          : 'BAD_REQUEST';
    const body = errorJson(code);
    const status = ERRORS[code].status;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  private baseHeaders(requestId: string): string[] {
    const headers = ['x-request-id', requestId];
    if (this.draining) headers.push('connection', 'close');
    return headers;
  }

  /** What every answer to this request carries, whichever backend serves it. */
  private clientHeaders(resolution: Resolution, requestId: string): string[] {
    const headers = this.baseHeaders(requestId);
    headers.push('x-strangler-route', resolution.route?.id ?? 'default');
    if (resolution.setCookie !== undefined) headers.push('set-cookie', resolution.setCookie);
    return headers;
  }

  private logAccess(
    req: IncomingMessage,
    requestId: string,
    resolution: Resolution | undefined,
    start: number,
    outcome: ForwardOutcome & Partial<Pick<ExchangeOutcome, 'backend' | 'upstream' | 'fallback' | 'tries' | 'hedge'>>,
  ): void {
    const ms = performance.now() - start;
    if (resolution !== undefined && outcome.backend !== undefined) {
      this.observer.finished({
        routeId: resolution.route?.id ?? 'default',
        side: resolution.backend,
        servedBy: outcome.backend,
        upstream: outcome.upstream,
        status: outcome.status,
        durationMs: ms,
        fallback: outcome.fallback,
        hedge: outcome.hedge,
      });
    }
    if (outcome.error === undefined && this.accessLogger === undefined) return;
    const entry = {
      reqId: requestId,
      method: req.method,
      path: resolution?.target ?? req.url,
      route: resolution?.route?.id ?? 'default',
      backend: outcome.upstream,
      side: outcome.backend,
      status: outcome.status,
      fallback: outcome.fallback,
      hedge: outcome.hedge,
      tries: outcome.tries,
      ms: Math.round(ms * 100) / 100,
    };
    if (outcome.error === undefined) this.accessLogger!.info(entry, 'request');
    else this.logger.warn({ ...entry, err: outcome.error }, 'request failed');
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolveListen, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        // An accept that fails (EMFILE: out of file descriptors) must not take the process down.
        this.server.on('error', (err) => this.logger.error({ err }, 'accepting a connection failed'));
        resolveListen();
      });
    });
  }

  /**
   * Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes what is left.
   * Responses sent while draining carry `Connection: close` so keep-alive clients move on.
   */
  async close(graceMs: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((done) => this.server.close(() => done()));
    // A keep-alive connection whose response was under way goes idle later: keep closing them.
    const sweeper = setInterval(() => this.server.closeIdleConnections(), 50);
    const timer = setTimeout(() => {
      this.logger.warn({ graceMs }, 'shutdown grace period over: closing connections still in flight');
      this.server.closeAllConnections();
      for (const socket of this.upgraded) socket.destroy();
    }, graceMs);
    // Upgraded sockets are no longer HTTP requests; end them now so close() can complete.
    for (const socket of this.upgraded) (socket as Socket).end();
    await closed;
    clearInterval(sweeper);
    clearTimeout(timer);
    // Every client has its answer now; what is left in a pool is an abandoned connect attempt.
    await this.backends.destroy();
  }
}

const CLOSING = Symbol('closing');
type ClosingSocket = Socket & { [CLOSING]?: boolean };

/** Answers `res` with `Connection: close` and runs no request that follows it on the connection. */
function closeAfter(req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
  (req.socket as ClosingSocket)[CLOSING] = true;
}

/** Bodies up to this size are buffered when a retry or a fallback might have to send them again. */
export const REPLAY_BUFFER_BYTES = 64 * 1024;

/** Whether this request's body is worth buffering: it is small, of known length, and may be replayed or copied to modern. */
function mayReplay(req: IncomingMessage, resolution: Resolution, shadow: CopyDecision | undefined): boolean {
  const length = Number(req.headers['content-length']);
  if (!(length <= REPLAY_BUFFER_BYTES)) return false;
  if (shadow?.copy === true) return true;
  const resilience = resolution.route?.resilience ?? DEFAULT_RESILIENCE;
  return resilience.retries > 0 || (resolution.backend === 'modern' && resilience.fallback);
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return req.destroy(new Error('body larger than announced'));
      chunks.push(chunk);
    });
    req.once('end', () => resolveBody(Buffer.concat(chunks, size)));
    req.once('error', reject);
    req.once('close', () => req.complete || reject(new Error('client aborted')));
  });
}
