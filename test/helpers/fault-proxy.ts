import net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * What the fault proxy does to the backend's answer (requests always pass through untouched):
 * - `pass`: nothing;
 * - `close`: accepts, then closes at once without a byte (a crashed or refusing backend);
 * - `reset`: forwards `afterBytes` bytes of the answer (default 0), then sends a TCP RST;
 * - `delay`: holds every chunk of the answer `ms` milliseconds;
 * - `bandwidth`: lets the answer through at `bytesPerSecond`;
 * - `truncate`: forwards `afterBytes` bytes of the answer, then closes cleanly (FIN).
 */
export type Fault =
  | { kind: 'pass' }
  | { kind: 'close' }
  | { kind: 'reset'; afterBytes?: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'bandwidth'; bytesPerSecond: number }
  | { kind: 'truncate'; afterBytes: number };

export interface FaultProxy {
  url: string;
  /** Changes the fault for connections accepted from now on. */
  setFault(fault: Fault): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

/** A TCP proxy in front of `target` (an http://host:port URL) that injects `fault`, on node:net only. */
export async function startFaultProxy(target: string, fault: Fault = { kind: 'pass' }): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  let current = fault;
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted++;
    const f = current;
    track(sockets, client);
    client.on('error', () => upstream?.destroy());
    if (f.kind === 'close') return void client.end();
    const upstream = net.connect(Number(port), hostname);
    track(sockets, upstream);
    upstream.on('error', () => client.destroy());
    client.on('data', (chunk) => upstream.write(chunk));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    relayAnswer(upstream, client, f);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    setFault: (next) => (current = next),
    get accepted() {
      return accepted;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function track(sockets: Set<net.Socket>, socket: net.Socket): void {
  sockets.add(socket);
  socket.once('close', () => sockets.delete(socket));
}

/** Copies the backend's answer to the client, applying the fault. */
function relayAnswer(upstream: net.Socket, client: net.Socket, fault: Fault): void {
  let sent = 0;
  upstream.on('data', (chunk: Buffer) => {
    switch (fault.kind) {
      case 'pass':
        return void client.write(chunk);
      case 'delay':
        upstream.pause();
        return void setTimeout(() => {
          client.write(chunk);
          upstream.resume();
        }, fault.ms);
      case 'bandwidth':
        upstream.pause();
        return trickle(client, chunk, fault.bytesPerSecond, () => upstream.resume());
      case 'reset':
      case 'truncate': {
        const limit = fault.afterBytes ?? 0;
        const part = chunk.subarray(0, Math.max(0, limit - sent));
        sent += chunk.length;
        if (part.length > 0) client.write(part);
        if (sent < limit) return;
        upstream.destroy();
        if (fault.kind === 'reset') client.resetAndDestroy();
        else client.end();
        return;
      }
      default:
        return;
    }
  });
  if (fault.kind === 'reset' && (fault.afterBytes ?? 0) === 0) {
    // Reset as soon as the request has arrived, before any answer.
    client.once('data', () => {
      upstream.destroy();
      client.resetAndDestroy();
    });
  }
}

/** Writes `chunk` in 20 slices a second so the rate holds at `bytesPerSecond`. */
function trickle(client: net.Socket, chunk: Buffer, bytesPerSecond: number, done: () => void): void {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 20));
  let offset = 0;
  const next = () => {
    if (client.destroyed) return;
    client.write(chunk.subarray(offset, offset + slice));
    offset += slice;
    if (offset >= chunk.length) return done();
    setTimeout(next, 50);
  };
  next();
}

/**
 * A backend speaking raw TCP: `answer` gets each connection and the bytes of its request head,
 * and writes whatever it likes (malformed HTTP, huge headers) or nothing at all.
 */
export async function startRawBackend(
  answer: (socket: net.Socket, head: string) => void,
  options: { readRequests?: boolean } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    track(sockets, socket);
    socket.on('error', () => socket.destroy());
    if (options.readRequests === false) {
      // Never read: the kernel buffers fill and the sender blocks.
      socket.pause();
      return answer(socket, '');
    }
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      answer(socket, head);
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
