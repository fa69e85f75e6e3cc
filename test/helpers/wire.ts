import net from 'node:net';

/**
 * HTTP/1.x on the wire, byte for byte: sends a request as given (head and body, possibly
 * several pipelined ones) on a fresh connection, reads until the server closes it, and parses
 * every response, interim ones included, keeping header bytes and body bytes as they arrived.
 */
export interface WireResponse {
  /** `HTTP/1.1` or `HTTP/1.0`. */
  version: string;
  status: number;
  reason: string;
  /** [name, value] as sent: names with their case, values as latin1 (one char per byte). */
  headers: [string, string][];
  /** The body without its framing (chunks joined); empty for HEAD, 1xx, 204 and 304. */
  body: Buffer;
  /** How the body was framed: `chunked`, `length` or `close`. */
  framing: 'chunked' | 'length' | 'close' | 'none';
}

export interface WireResult {
  responses: WireResponse[];
  /** Bytes left after the last complete response (a truncated one), as latin1. */
  rest: string;
  /** `end` when the server closed cleanly, `error` on a reset, `timeout` when it never closed. */
  ended: 'end' | 'error' | 'timeout';
}

export interface WireRequest {
  /** The request head(s) and any small bodies, as bytes. */
  head: Buffer;
  /** A large body streamed after `head`, with backpressure. */
  body?: Iterable<Buffer>;
  /** Methods of the pipelined requests, in order, so HEAD answers are parsed without a body. */
  methods: string[];
}

export function exchangeOnWire(port: number, request: WireRequest, timeoutMs = 20_000): Promise<WireResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(request.head);
      if (request.body !== undefined) void writeBody(socket, request.body);
    });
    const finish = (ended: WireResult['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponses(Buffer.concat(chunks), request.methods), ended });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish('end'));
    socket.on('error', () => finish('error'));
  });
}

async function writeBody(socket: net.Socket, body: Iterable<Buffer>): Promise<void> {
  for (const chunk of body) {
    if (socket.destroyed) return;
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r).once('close', r));
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n');

export function parseResponses(data: Buffer, methods: string[]): Omit<WireResult, 'ended'> {
  const responses: WireResponse[] = [];
  let at = 0;
  let requestIndex = 0;
  for (;;) {
    const headEnd = data.indexOf(CRLFCRLF, at);
    if (headEnd < 0) break;
    const lines = data.subarray(at, headEnd).toString('latin1').split('\r\n');
    const match = /^(HTTP\/1\.[01]) (\d{3}) ?(.*)$/.exec(lines[0]!);
    if (match === null) break;
    const status = Number(match[2]);
    const headers: [string, string][] = lines.slice(1).map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon), line.slice(colon + 1).trim()];
    });
    const get = (name: string) => headers.find(([n]) => n.toLowerCase() === name)?.[1];
    let pos = headEnd + 4;
    let body: Buffer = Buffer.alloc(0);
    let framing: WireResponse['framing'] = 'none';
    const method = methods[requestIndex] ?? 'GET';
    if (status >= 200) requestIndex++;
    if (!(status < 200 || status === 204 || status === 304 || method === 'HEAD')) {
      if (/chunked/i.test(get('transfer-encoding') ?? '')) {
        framing = 'chunked';
        const parts: Buffer[] = [];
        for (;;) {
          const lineEnd = data.indexOf('\r\n', pos, 'latin1');
          if (lineEnd < 0) return { responses, rest: data.subarray(at).toString('latin1') };
          const size = parseInt(data.subarray(pos, lineEnd).toString('latin1'), 16);
          pos = lineEnd + 2;
          if (size === 0) {
            const trailerEnd = data.indexOf(CRLFCRLF, pos - 2);
            pos = trailerEnd < 0 ? data.length : trailerEnd + 4;
            break;
          }
          parts.push(data.subarray(pos, pos + size));
          pos += size + 2;
        }
        body = Buffer.concat(parts);
      } else if (get('content-length') !== undefined) {
        framing = 'length';
        const length = Number(get('content-length'));
        if (pos + length > data.length) return { responses, rest: data.subarray(at).toString('latin1') };
        body = data.subarray(pos, pos + length);
        pos += length;
      } else {
        framing = 'close';
        body = data.subarray(pos);
        pos = data.length;
      }
    }
    responses.push({ version: match[1]!, status, reason: match[3]!, headers, body, framing });
    at = pos;
  }
  return { responses, rest: data.subarray(at).toString('latin1') };
}
