import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Upgrades other than WebSocket (`Upgrade: h2c` with `HTTP2-Settings`, sent by `curl --http2` on
 * http:// and by Java's HttpClient) are ignored, as RFC 9110 §7.8 and RFC 9113 §3.1 allow and
 * nginx does: the request is answered over HTTP/1.1 like any other.
 *
 * Node hands every request with `Connection: upgrade` to the 'upgrade' listener, its socket
 * detached from the HTTP parser. So the request is given back: its head is written again without
 * the `Upgrade` and `HTTP2-Settings` fields and without those tokens in `Connection`, put back in
 * front of whatever followed it on the socket (its body, a pipelined request), and the socket is
 * handed to the server as a new connection, whose parser reads it as an ordinary request. The
 * head is rebuilt from what Node's strict parser accepted, so nothing ambiguous is introduced;
 * the fields dropped are hop-by-hop and would not have been forwarded anyway.
 */
const DROPPED = new Set(['upgrade', 'http2-settings']);

/** The request head without its upgrade: the bytes a client that never asked would have sent. */
export function headWithoutUpgrade(req: IncomingMessage): Buffer {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (DROPPED.has(lower)) continue;
    let value = raw[i + 1]!;
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && !DROPPED.has(token.toLowerCase()))
        .join(', ');
      if (value === '') continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  // Node's parser decoded every byte of the head as latin1: encoding it so gives the same bytes.
  return Buffer.from(head + '\r\n', 'latin1');
}

/** Serves an upgrade request the gateway ignores as the plain HTTP/1.1 request it also is. */
export function serveWithoutUpgrade(server: Server, req: IncomingMessage, socket: Duplex, bodyHead: Buffer): void {
  socket.unshift(bodyHead.length === 0 ? headWithoutUpgrade(req) : Buffer.concat([headWithoutUpgrade(req), bodyHead]));
  server.emit('connection', socket);
}
