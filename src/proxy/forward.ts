import type { IncomingMessage, ServerResponse } from 'node:http';
import { ERRORS, errorJson, type ErrorCode } from '../errors.js';
import { lingerOnBody } from './limits.js';

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
  const req = res.req as IncomingMessage | undefined;
  if (!res.shouldKeepAlive && req !== undefined && !req.complete && hasBody(req)) {
    // The connection closes after this answer while the client may still be sending its body:
    // the answer is written whole, and the socket stays open while the rest is read and dropped.
    res.write(body);
    return lingerOnBody(req, () => res.end());
  }
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

/** True when the request has a body to stream upstream. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
