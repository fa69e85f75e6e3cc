import net from 'node:net';

/** A parsed raw HTTP/1.1 response, or how the connection ended without one. */
export interface RawResponse {
  /** 0 when the connection ended before a status line. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything read, as latin1. */
  raw: string;
  /** How the socket ended: a clean FIN, a reset/error, or our own timeout. */
  ended: 'end' | 'error' | 'timeout';
}

export interface RawOptions {
  /** Give up (and destroy the socket) after this long; default 10 s. */
  timeoutMs?: number;
  /** Resolve as soon as one complete response (by Content-Length) has arrived. */
  firstResponse?: boolean;
}

/**
 * Sends `request` byte for byte over a fresh TCP connection and reads until the server closes
 * (or one response is complete): for targets and framing that fetch() or node:http would fix up.
 */
export function rawRequest(port: number, request: string | Buffer, options: RawOptions = {}): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ended: RawResponse['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponse(Buffer.concat(chunks).toString('latin1'), ended));
    };
    const timer = setTimeout(() => finish('timeout'), options.timeoutMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (options.firstResponse && isComplete(Buffer.concat(chunks).toString('latin1'))) finish('end');
    });
    socket.on('end', () => finish('end'));
    socket.on('error', () => finish('error'));
  });
}

/** A GET with the given target, `Host` and `Connection: close`. */
export function rawGet(port: number, target: string, extra = ''): Promise<RawResponse> {
  return rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: gw.test\r\n${extra}Connection: close\r\n\r\n`);
}

export function parseResponse(raw: string, ended: RawResponse['ended'] = 'end'): RawResponse {
  const headEnd = raw.indexOf('\r\n\r\n');
  const head = headEnd < 0 ? raw : raw.slice(0, headEnd);
  const lines = head.split('\r\n');
  // Skip interim 1xx responses: the final one is what the test is about.
  let start = 0;
  let rest = raw;
  const interim = /^HTTP\/1\.1 1\d\d/;
  while (interim.test(rest)) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    start += end + 4;
    rest = rest.slice(end + 4);
  }
  if (start > 0) return { ...parseResponse(raw.slice(start), ended), raw };
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: match ? Number(match[1]) : 0, headers, body: headEnd < 0 ? '' : raw.slice(headEnd + 4), raw, ended };
}

function isComplete(raw: string): boolean {
  const parsed = parseResponse(raw);
  if (parsed.status === 0 || !raw.includes('\r\n\r\n')) return false;
  const length = parsed.headers['content-length'];
  return length !== undefined && Buffer.byteLength(parsed.body, 'latin1') >= Number(length);
}
