import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { DEFAULTS } from '../config.js';

/** What one client may send and how long it may take; the reasons for each default are in config.ts. */
export interface RequestLimits {
  /** Time to send the request line and headers; past it 408 and the socket closes (slowloris). */
  headersTimeoutMs: number;
  /** Time to send the whole request, body included; past it 408. */
  requestTimeoutMs: number;
  /** Request line plus headers; past it 431. */
  maxHeaderBytes: number;
  /** Request target length; past it 414. */
  maxUrlBytes: number;
  /** Request body, unless the route sets its own; past it 413. null: no limit (the backend decides). */
  maxBodyBytes: number | null;
  /** Open client connections; past it new ones are closed at accept. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: RequestLimits = {
  headersTimeoutMs: DEFAULTS.headersTimeoutMs,
  requestTimeoutMs: DEFAULTS.requestTimeoutMs,
  maxHeaderBytes: DEFAULTS.maxHeaderBytes,
  maxUrlBytes: DEFAULTS.maxUrlBytes,
  maxBodyBytes: DEFAULTS.maxBodyBytes,
  maxConnections: DEFAULTS.maxConnections,
};

/**
 * How much of a body the gateway reads and discards after answering a request whose connection
 * then closes (a refused body): closing while the client still sends makes its kernel reset the
 * connection, and most clients then report EPIPE or ECONNRESET instead of the answer. Like
 * nginx's lingering close, bounded in bytes and time so a client cannot hold the socket.
 */
export const LINGER_MAX_BYTES = 4 * 1024 * 1024;
export const LINGER_MAX_MS = 2_000;

/**
 * Reads and discards the rest of `req`'s body, then calls `done` (once): when the body ends,
 * the client goes away, or the bounds run out. Never holds anything but this connection.
 */
export function lingerOnBody(req: IncomingMessage, done: () => void, maxBytes = LINGER_MAX_BYTES, maxMs = LINGER_MAX_MS): void {
  let seen = 0;
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    req.off('data', onData);
    done();
  };
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) finish();
  };
  const timer = setTimeout(finish, maxMs);
  req.on('data', onData);
  req.once('end', finish);
  req.once('close', finish);
  req.once('error', finish);
  req.resume();
}

/** A request body grew past its limit while it streamed. */
export class BodyTooLargeError extends Error {
  readonly code = 'BODY_TOO_LARGE';

  constructor(limit: number) {
    super(`the request body is larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

/**
 * The body of a request of unknown length (chunked), counted as it streams: past `limit` the
 * stream fails with BodyTooLargeError, which aborts the upstream request so the backend never
 * sees a complete body. (A declared Content-Length is checked up front, and Node's parser
 * never delivers more than it declares, so those bodies need no counting.)
 */
export function limitedBody(req: IncomingMessage, limit: number, onOverflow: () => void): Readable {
  let seen = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen <= limit) return callback(null, chunk);
      onOverflow();
      callback(new BodyTooLargeError(limit));
    },
  });
  req.once('close', () => req.complete || counted.destroy(new Error('the client aborted the request body')));
  return req.pipe(counted);
}
