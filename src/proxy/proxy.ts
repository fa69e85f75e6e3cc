import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { systemClock, systemRandom, type Clock, type Random } from '../clock.js';
import type { BreakerRegistry } from '../resilience/breaker-registry.js';
import { DEFAULT_RESILIENCE, DEFAULT_ROUTE_SETTINGS, type Backend } from '../routing/schema.js';
import type { LiveRoutes } from '../routing/live-routes.js';
import { Exchange, type ExchangeOutcome } from './exchange.js';
import { hasBody, sendError, type ForwardOutcome } from './forward.js';
import { clientRequestId, upstreamRequestHeaders } from './headers.js';
import { resolve, type Resolution } from './resolve.js';
import type { Upstream } from './upstream.js';
import { UpgradeHandler, rejectUpgrade } from './websocket.js';

export interface ProxyOptions {
  routes: Pick<LiveRoutes, 'current'>;
  upstreams: Record<Backend, Upstream>;
  logger: Logger;
  /** One line per request at info; undefined turns the access log off (failures are still logged). */
  accessLogger: Logger | undefined;
  breakers: BreakerRegistry;
  clock?: Clock;
  random?: Random;
  /** Idle keep-alive time for client connections; keep it above any load balancer's idle timeout. */
  keepAliveTimeoutMs?: number;
}

/**
 * The data plane: a plain node:http server whose handler resolves each request once and
 * streams it to the chosen backend through undici. Nothing on this path queries the
 * database or logs synchronously.
 */
export class ProxyServer {
  readonly server: http.Server;
  private readonly routes: Pick<LiveRoutes, 'current'>;
  private readonly upstreams: Record<Backend, Upstream>;
  private readonly logger: Logger;
  private readonly accessLogger: Logger | undefined;
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly breakers: BreakerRegistry;
  private readonly upgraded = new Set<Duplex>();
  /** Responses not yet finished, so a drain can still turn their keep-alive off. */
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;

  constructor(options: ProxyOptions) {
    this.routes = options.routes;
    this.upstreams = options.upstreams;
    this.logger = options.logger;
    this.accessLogger = options.accessLogger;
    this.random = options.random ?? systemRandom;
    this.clock = options.clock ?? systemClock;
    this.breakers = options.breakers;
    this.server = http.createServer({ keepAliveTimeout: options.keepAliveTimeoutMs ?? 65_000 }, (req, res) =>
      this.handleRequest(req, res),
    );
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.handleUpgrade(req, socket, head),
    );
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.handleClientError(err, socket));
  }

  private handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const start = performance.now();
    this.inFlight.add(res);
    res.once('close', () => this.inFlight.delete(res));
    const requestId = clientRequestId(req) ?? randomUUID();
    const resolution = resolve(req, this.routes.current, this.random);
    if ('refused' in resolution) {
      sendError(res, 'BAD_REQUEST_TARGET', `bad request target: ${resolution.refused}`, this.baseHeaders(requestId));
      this.logAccess(req, requestId, undefined, start, { status: 400 });
      return;
    }
    const exchange = (body: Buffer | IncomingMessage | null) =>
      new Exchange(
        { upstreams: this.upstreams, breakers: this.breakers, clock: this.clock, random: this.random },
        req,
        res,
        resolution,
        body,
        upstreamRequestHeaders(req, requestId),
        this.clientHeaders(resolution, requestId),
        (outcome) => this.logAccess(req, requestId, resolution, start, outcome),
      ).start();
    if (!hasBody(req)) return exchange(null);
    if (!mayReplay(req, resolution)) return exchange(req);
    readBody(req, REPLAY_BUFFER_BYTES).then(exchange, () => res.destroy());
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const start = performance.now();
    const requestId = clientRequestId(req) ?? randomUUID();
    if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
      rejectUpgrade(socket, 'BAD_REQUEST_TARGET', 'only WebSocket upgrades are supported', this.baseHeaders(requestId));
      return;
    }
    const resolution = resolve(req, this.routes.current, this.random);
    if ('refused' in resolution) {
      rejectUpgrade(socket, 'BAD_REQUEST_TARGET', `bad request target: ${resolution.refused}`, this.baseHeaders(requestId));
      return;
    }
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    const upstream = this.upstreams[resolution.backend];
    const clientHeaders = [...this.clientHeaders(resolution, requestId), 'x-strangler-backend', resolution.backend];
    const handler = new UpgradeHandler(socket, head, clientHeaders, (outcome) =>
      this.logAccess(req, requestId, resolution, start, { ...outcome, backend: resolution.backend }),
    );
    upstream.pool.dispatch(
      {
        path: upstream.basePath + resolution.target,
        method: req.method!,
        headers: upstreamRequestHeaders(req, requestId),
        upgrade: 'websocket',
        headersTimeout: resolution.route?.timeoutMs ?? DEFAULT_ROUTE_SETTINGS.timeoutMs,
      },
      handler,
    );
  }

  /** Malformed HTTP from a client gets a JSON 400 instead of Node's bare one. */
  private handleClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const body = JSON.stringify({
      error: {
        code: tooLarge ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST',
        message: tooLarge ? 'request headers are too large' : 'malformed HTTP request',
      },
    });
    socket.end(
      `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\n` +
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
    outcome: ForwardOutcome & Partial<Pick<ExchangeOutcome, 'backend' | 'fallback' | 'tries'>>,
  ): void {
    if (outcome.error === undefined && this.accessLogger === undefined) return;
    const entry = {
      reqId: requestId,
      method: req.method,
      path: resolution?.target ?? req.url,
      route: resolution?.route?.id ?? 'default',
      backend: outcome.backend,
      status: outcome.status,
      fallback: outcome.fallback,
      tries: outcome.tries,
      ms: Math.round((performance.now() - start) * 100) / 100,
    };
    if (outcome.error === undefined) this.accessLogger!.info(entry, 'request');
    else this.logger.warn({ ...entry, err: outcome.error }, 'request failed');
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolveListen, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
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
    // Answers still to come go out with `Connection: close` too, so no client reuses a closing socket.
    for (const res of this.inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
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
    await Promise.all(Object.values(this.upstreams).map((u) => u.pool.close()));
  }
}

/** Bodies up to this size are buffered when a retry or a fallback might have to send them again. */
export const REPLAY_BUFFER_BYTES = 64 * 1024;

/** Whether this request's body is worth buffering: it is small, of known length, and may be replayed. */
function mayReplay(req: IncomingMessage, resolution: Resolution): boolean {
  const length = Number(req.headers['content-length']);
  if (!(length <= REPLAY_BUFFER_BYTES)) return false;
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
