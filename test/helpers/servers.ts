import { mkdtempSync, rmSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ServeConfig, type ServeConfigInput } from '../../src/config.js';
import { startGateway, type Gateway, type GatewayDeps } from '../../src/gateway.js';

/** What a stub backend saw: enough to check exactly what the gateway forwarded. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
}

export interface StubBackend {
  name: string;
  url: string;
  received: Received[];
  server: http.Server;
  close(): Promise<void>;
}

export type StubHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Answers JSON `{ servedBy, url }` unless a handler is given; records every request. */
export async function startBackend(name: string, handler?: StubHandler): Promise<StubBackend> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders });
    if (handler) return handler(req, res);
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ servedBy: name, url: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { name, url: `http://127.0.0.1:${port}`, received, server, close: () => closeServer(server) };
}

export function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A fresh directory for a test's database; removed by the returned cleanup. */
export function tempDir(): { dir: string; db: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'strangler-test-'));
  return { dir, db: join(dir, 'routes.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const silentLogger = () => pino({ level: 'silent' });

export interface TestGateway extends Gateway {
  legacy: StubBackend;
  modern: StubBackend;
  db: string;
  /** Stops the gateway and both backends and removes the temp database. */
  stop(): Promise<void>;
}

/**
 * A real gateway on ephemeral loopback ports in front of two stub backends (or the given
 * ones), on a temp database. Call stop() in afterEach.
 */
export async function startTestGateway(
  options: {
    config?: Partial<ServeConfigInput>;
    deps?: Partial<GatewayDeps>;
    legacy?: StubBackend;
    modern?: StubBackend;
  } = {},
): Promise<TestGateway> {
  const legacy = options.legacy ?? (await startBackend('legacy'));
  const modern = options.modern ?? (await startBackend('modern'));
  const temp = tempDir();
  const config = ServeConfig.parse({
    legacy: legacy.url,
    modern: modern.url,
    db: temp.db,
    port: 0,
    host: '127.0.0.1',
    adminPort: 0,
    adminHost: '127.0.0.1',
    logLevel: 'silent',
    shutdownGraceMs: 1_000,
    ...options.config,
  });
  const gateway = await startGateway(config, { logger: silentLogger(), pollMs: 50, ...options.deps });
  return Object.assign(Object.create(null) as object, gateway, {
    legacy,
    modern,
    db: config.db,
    close: gateway.close,
    async stop() {
      await gateway.close();
      await Promise.all([legacy.close(), modern.close()]);
      temp.cleanup();
    },
  }) as TestGateway;
}

/** Calls the admin API with a JSON body; returns status, headers and parsed body. */
export async function admin(
  gateway: Pick<Gateway, 'adminUrl'>,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(gateway.adminUrl + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}
