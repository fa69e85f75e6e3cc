/**
 * `npm run screenshots`: the demo's setup (legacy and modern demo services, the gateway on a temp
 * database with the demo routes), some traffic, and headless chromium photographing the
 * dashboard at 1280×800 into docs/screenshots/ (overview.png, route.png) for the README.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createLegacyServer } from '../legacy/server.js';
import { createModernServer } from '../modern/server.js';
import { seed } from '../demo/seed.js';
import { ServeConfig } from '../src/config.js';
import { startGateway } from '../src/gateway.js';
import { openPage, startBrowser } from '../test/helpers/browser.js';

const OUT = new URL('../docs/screenshots/', import.meta.url);
const ACTOR = { actor: 'alice', reason: 'orders service passed load test' };

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Requests to every route for `ms`, a fresh visitor (no cookie) each time. */
async function traffic(proxy: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) {
    const skus = ['TEA-001', 'MUG-002', 'KTL-003'];
    const path = i % 3 === 0 ? `/users/${(i % 4) + 1}` : i % 7 === 1 ? `/stock/${skus[i % 3]}` : `/orders/${(i % 5) + 1}`;
    await fetch(proxy + path, { headers: { 'x-user-id': `user-${i}` } }).then((r) => r.arrayBuffer());
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'strangler-shots-'));
  const legacy = createLegacyServer();
  const modern = createModernServer({});
  const config = ServeConfig.parse({
    legacy: await listen(legacy),
    modern: await listen(modern),
    db: join(dir, 'routes.db'),
    port: 0,
    adminPort: 0,
    host: '127.0.0.1',
    logLevel: 'silent',
    shutdownGraceMs: 500,
  });
  const browser = await startBrowser(); // also builds the dashboard from ui/, served below
  const gateway = await startGateway(config, { logger: pino({ level: 'silent' }), pollMs: 50, uiDir: browser.uiDir });
  try {
    await seed(gateway);
    gateway.store.update('orders', { mode: 'canary', canaryPercent: 10 }, { ...ACTOR, reason: 'first canary' });
    gateway.store.update('orders', { canaryPercent: 25 }, ACTOR);
    const { page } = await openPage(browser.browser);
    await page.goto(`${gateway.adminUrl}/ui/`);
    await page.getByRole('heading', { name: 'Migration overview' }).waitFor();
    await traffic(gateway.proxyUrl, 12_000); // four refreshes: the chart has a line
    await page.screenshot({ path: new URL('overview.png', OUT).pathname });
    await page.goto(`${gateway.adminUrl}/ui/#/routes/orders`);
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await traffic(gateway.proxyUrl, 3_500);
    await page.screenshot({ path: new URL('route.png', OUT).pathname });
    process.stdout.write(`wrote ${new URL('overview.png', OUT).pathname} and route.png\n`);
  } finally {
    await browser.close();
    await gateway.close();
    legacy.close();
    modern.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`screenshots: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
