import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import { ERRORS, errorJson, type ErrorCode } from '../errors.js';
import { clientResponseHeaders } from './headers.js';
import { upstreamErrorCode, type ForwardOutcome } from './forward.js';

/** Writes a whole HTTP/1.1 response head (and body) on a raw socket that Node has handed over. */
export function writeRawHead(socket: Duplex, status: number, headers: (string | Buffer)[]): void {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${String(headers[i])}: ${String(headers[i + 1])}\r\n`;
  socket.write(head + '\r\n', 'latin1');
}

/** Answers a gateway error on a raw socket and closes it. */
export function rejectUpgrade(socket: Duplex, code: ErrorCode, message: string | undefined, extra: string[]): void {
  if (!socket.writable) return void socket.destroy();
  const body = errorJson(code, message);
  writeRawHead(socket, ERRORS[code].status, [
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'connection',
    'close',
    ...extra,
  ]);
  socket.end(body);
}

/**
 * Relays a WebSocket handshake to the chosen backend and, on 101, splices the two sockets.
 * Any other answer from the backend (a 403, a 404) is relayed to the client as is.
 */
export class UpgradeHandler implements Dispatcher.DispatchHandler {
  private abortUpstream: ((err?: Error) => void) | undefined;
  private responded = false;
  private status = 0;

  constructor(
    private readonly socket: Duplex,
    private readonly head: Buffer,
    private readonly extraHeaders: string[],
    private readonly done: (outcome: ForwardOutcome) => void,
  ) {
    socket.once('close', () => this.abortUpstream?.(new Error('the client closed the connection')));
    socket.on('error', () => socket.destroy());
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.socket.destroyed) abort(new Error('the client closed the connection'));
    else this.abortUpstream = abort;
  }

  onUpgrade(statusCode: number, rawHeaders: Buffer[] | string[] | null, upstream: Duplex): void {
    this.responded = true;
    const headers = (rawHeaders ?? []).map((h) => (typeof h === 'string' ? h : h.toString('latin1')));
    writeRawHead(this.socket, statusCode, [...headers, ...this.extraHeaders]);
    if (this.head.length > 0) upstream.write(this.head);
    upstream.on('error', () => this.socket.destroy());
    this.socket.on('error', () => upstream.destroy());
    upstream.once('close', () => this.socket.destroy());
    this.socket.once('close', () => upstream.destroy());
    upstream.pipe(this.socket).pipe(upstream);
    this.done({ status: statusCode });
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true;
    this.responded = true;
    this.status = statusCode;
    writeRawHead(this.socket, statusCode, clientResponseHeaders(rawHeaders, [...this.extraHeaders, 'connection', 'close']));
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.socket.write(chunk); // error bodies on a refused handshake are small: no backpressure needed
    return true;
  }

  onComplete(): void {
    this.socket.end();
    this.done({ status: this.status });
  }

  onError(err: Error): void {
    if (this.responded) this.socket.destroy();
    else rejectUpgrade(this.socket, upstreamErrorCode(err), undefined, this.extraHeaders);
    this.done({ status: this.responded ? this.status : ERRORS[upstreamErrorCode(err)].status, error: err });
  }
}
