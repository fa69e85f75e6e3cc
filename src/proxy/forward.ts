import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { ERRORS, errorJson, type ErrorCode } from '../errors.js';
import { clientResponseHeaders } from './headers.js';

/** Why an upstream call failed, as the client's error code. */
export function upstreamErrorCode(err: Error): ErrorCode {
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'UPSTREAM_TIMEOUT';
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EAI_AGAIN':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'UPSTREAM_CONNECT_ERROR';
    default:
      return 'UPSTREAM_ERROR';
  }
}

/** Writes a gateway error as JSON, with the headers every response carries. */
export function sendError(res: ServerResponse, code: ErrorCode, message: string | undefined, extra: string[]): void {
  const body = errorJson(code, message);
  res.writeHead(ERRORS[code].status, [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
    ...extra,
  ]);
  res.end(body);
}

export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGoneError';
  }
}

export interface ForwardOutcome {
  status: number;
  error?: Error;
}

/**
 * Streams one upstream response to the client with backpressure both ways: when the client
 * reads slowly, the upstream socket is paused rather than the body being buffered.
 * Uses undici's native (callback) handler interface, which skips a header-parsing wrapper.
 */
export class ForwardHandler implements Dispatcher.DispatchHandler {
  private abortUpstream: ((err?: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private status = 0;
  private clientGone = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly extraHeaders: string[],
    private readonly done: (outcome: ForwardOutcome) => void,
  ) {
    res.once('close', () => {
      if (res.writableFinished) return;
      this.clientGone = true;
      this.abortUpstream?.(new ClientGoneError());
    });
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.clientGone) abort(new ClientGoneError());
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // interim responses are the gateway's own business with each side
    this.resume = resume;
    this.status = statusCode;
    this.res.writeHead(statusCode, clientResponseHeaders(rawHeaders, this.extraHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    const writable = this.res.write(chunk);
    if (!writable) this.res.once('drain', this.resume!);
    return writable;
  }

  onComplete(): void {
    this.res.end();
    this.done({ status: this.status });
  }

  onError(err: Error): void {
    if (this.clientGone || err instanceof ClientGoneError) {
      this.done({ status: 499, error: err });
    } else if (!this.res.headersSent) {
      const code = upstreamErrorCode(err);
      sendError(this.res, code, undefined, this.extraHeaders);
      this.done({ status: this.res.statusCode, error: err });
    } else {
      // Mid-body failure: abort the client's connection so a truncated body is never taken as whole.
      this.res.destroy(err);
      this.done({ status: this.status, error: err });
    }
  }
}

/** True when the request has a body to stream upstream. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
