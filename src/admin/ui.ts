import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorJson } from '../errors.js';

/** The dashboard's URL prefix on the admin listener. */
export const UI_PREFIX = '/ui/';

/**
 * The page may load and talk to this origin only: no CDN, no inline script or style, no frames,
 * no form posts elsewhere. The API calls are same-origin fetches carrying the bearer token.
 */
export const UI_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

interface Asset {
  type: string;
  body: Buffer;
}

/**
 * Where `npm run build` writes the dashboard: dist/ui, seen from src/admin (run from source) or
 * from dist/src/admin (built). The sources in ui/ have no app.js, so they are never served.
 */
export function defaultUiDir(): string | undefined {
  for (const path of ['../../dist/ui/', '../../ui/']) {
    const dir = fileURLToPath(new URL(path, import.meta.url));
    if (existsSync(join(dir, 'app.js'))) return dir;
  }
  return undefined;
}

/** The built files, read once at start-up: a request can only name one of them, so no path reaches the disk. */
function loadAssets(dir: string | undefined): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (dir === undefined) return assets;
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type !== undefined) assets.set(name, { type, body: readFileSync(join(dir, name)) });
  }
  return assets;
}

/**
 * `GET /ui/` and its assets. They hold no data, so they load without the token (server.ts exempts
 * exactly these routes); every API call the page makes sends it. The Host check applies as everywhere.
 */
export function registerUi(app: FastifyInstance, dir: string | undefined = defaultUiDir()): void {
  const assets = loadAssets(dir);
  const send = (reply: FastifyReply, name: string) => {
    const asset = assets.get(name);
    if (asset === undefined) {
      const message = assets.size === 0 ? 'the dashboard is not built: run npm run build' : `no dashboard file "${name}"`;
      return reply.code(404).type('application/json; charset=utf-8').send(errorJson('NOT_FOUND', message));
    }
    return reply
      .header('content-security-policy', UI_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .type(asset.type)
      .send(asset.body);
  };
  app.get('/ui', async (_request, reply) => reply.redirect(UI_PREFIX, 301));
  app.get(UI_PREFIX, async (_request, reply) => send(reply, 'index.html'));
  app.get(`${UI_PREFIX}:file`, async (request, reply) => send(reply, (request.params as { file: string }).file));
}

/** Whether a request was routed to one of the dashboard's own (token-free) routes. */
export function isUiRoute(routeUrl: string | undefined): boolean {
  return routeUrl === '/ui' || routeUrl === UI_PREFIX || routeUrl === `${UI_PREFIX}:file`;
}
