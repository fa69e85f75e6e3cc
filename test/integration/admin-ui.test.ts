import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UI_CSP } from '../../src/admin/ui.js';
import { buildUi } from '../../ui/build.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startTestGateway, type TestGateway } from '../helpers/servers.js';

const TOKEN = 'ui-integration-token-0123456789';

/** The admin listener serving the dashboard: its files without the token, nothing else. */
describe('GET /ui/', () => {
  let uiDir: string;
  let gw: TestGateway;
  const port = () => Number(new URL(gw.adminUrl).port);
  const raw = (target: string, headers = '') =>
    rawRequest(port(), `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n`);

  beforeAll(async () => {
    uiDir = mkdtempSync(join(tmpdir(), 'strangler-ui-'));
    await buildUi(uiDir);
    gw = await startTestGateway({ deps: { uiDir }, config: { adminToken: TOKEN } });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    rmSync(uiDir, { recursive: true, force: true });
  });

  it.each([
    ['/ui/', 'text/html; charset=utf-8'],
    ['/ui/app.js', 'text/javascript; charset=utf-8'],
    ['/ui/style.css', 'text/css; charset=utf-8'],
    ['/ui/icon.svg', 'image/svg+xml'],
  ])('serves %s without the token, under a strict CSP', async (path, type) => {
    const res = await fetch(gw.adminUrl + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(res.headers.get('content-security-policy')).toBe(UI_CSP);
    expect(UI_CSP).toContain("default-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('redirects /ui to /ui/', async () => {
    const res = await fetch(`${gw.adminUrl}/ui`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([301, '/ui/']);
  });

  it('answers a path that is no dashboard file with an error, never a file or data', async () => {
    // 404 where the request matched the file route (only built files are served), 401 where it
    // matched nothing (the token check comes first there).
    for (const target of ['/ui/nope.js', '/ui/..%2Froutes', '/ui/%2e%2e/routes', '/ui/../../etc/passwd', '/ui/app.js/x']) {
      const res = await raw(target);
      expect([target, [401, 404].includes(res.status)]).toEqual([target, true]);
      expect(JSON.parse(res.body).error.code).toMatch(/^(NOT_FOUND|UNAUTHORIZED)$/);
    }
  });

  it('exempts only the dashboard files from the token', async () => {
    for (const target of ['/routes', '/status', '/routes?x=/ui/', '/ui/../routes', '/backends', '/breakers']) {
      const res = await raw(target);
      expect([target, res.status]).toEqual([target, 401]);
    }
    expect((await raw('/status', `Authorization: Bearer ${TOKEN}\r\n`)).status).toBe(200);
  });

  it('keeps the Host check for the dashboard', async () => {
    const res = await rawRequest(port(), 'GET /ui/ HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n');
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe('HOST_NOT_ALLOWED');
  });

  it('says so when the dashboard was never built', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'strangler-ui-empty-'));
    const bare = await startTestGateway({ deps: { uiDir: empty } });
    try {
      const res = await fetch(`${bare.adminUrl}/ui/`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.message).toContain('npm run build');
    } finally {
      await bare.stop();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
