import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketOf } from '../../src/routing/canary.js';
import { haveChromium, openPage, startBrowser, type TestBrowser } from '../helpers/browser.js';
import { freePort } from '../helpers/httpbin.js';
import { admin, startTestGateway, type TestGateway } from '../helpers/servers.js';

const TOKEN = 'dashboard-e2e-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/**
 * The dashboard in headless chromium against a real gateway (with an admin token) and real
 * stub backends: every change is made by clicking, and checked through the API and the data plane.
 */
describe.skipIf(!haveChromium())('dashboard in a browser', () => {
  let tb: TestBrowser;
  let browser: Browser;
  let gw: TestGateway;

  beforeAll(async () => {
    tb = await startBrowser();
    browser = tb.browser;
    gw = await startTestGateway({ deps: { uiDir: tb.uiDir }, config: { adminToken: TOKEN } });
    // Two routes every test may read; each test that changes a route makes its own.
    await api('POST', '/routes', { id: 'orders', pathPrefix: '/orders' });
    await api('POST', '/routes', { id: 'users', pathPrefix: '/users', mode: 'canary', canaryPercent: 30 });
  }, 60_000);
  afterAll(async () => {
    await tb?.close();
    await gw?.stop();
  });

  const api = (method: string, path: string, body?: unknown) => admin(gw, method, path, body, AUTH);
  const breakerOf = async (id: string) => (await api('GET', '/breakers')).body.breakers.find((b: any) => b.routeId === id);
  const createRoute = async (body: Record<string, unknown>) => expect((await api('POST', '/routes', body)).status).toBe(201);

  /** A fresh tab signed in with the token, on `hash`. */
  async function signedIn(hash = '#/', viewport?: { width: number; height: number }): Promise<{ page: Page; requests: Request[] }> {
    const opened = await openPage(browser, viewport);
    await opened.page.goto(`${gw.adminUrl}/ui/${hash}`);
    await opened.page.getByLabel('Admin token').fill(TOKEN);
    await opened.page.getByRole('button', { name: 'Sign in' }).click();
    await opened.page.getByRole('navigation', { name: 'Views' }).waitFor();
    return opened;
  }

  const closePage = (page: Page) => page.context().close();

  it('asks for the token, refuses a wrong one, and keeps the right one for the tab only', async () => {
    const { page, requests } = await openPage(browser);
    try {
      await page.goto(`${gw.adminUrl}/ui/`);
      await page.getByLabel('Admin token').fill('not-the-token-at-all');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('refused this token');
      expect(await page.evaluate('sessionStorage.length')).toBe(0);

      await page.getByLabel('Admin token').fill(TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Migration overview' }).waitFor();
      expect(await page.evaluate('Object.values(sessionStorage)')).toEqual([TOKEN]);
      expect(await page.context().cookies()).toEqual([]);
      const apiCalls = requests.filter((r) => !new URL(r.url()).pathname.startsWith('/ui/'));
      expect(apiCalls.length).toBeGreaterThan(0);
      for (const call of apiCalls) expect(call.url()).not.toContain(TOKEN);
      const after = apiCalls.filter((r) => r.headers().authorization === `Bearer ${TOKEN}`);
      expect(after.length).toBeGreaterThan(0);

      // A reload in the same tab stays signed in; signing out forgets the token.
      await page.reload();
      await page.getByRole('heading', { name: 'Migration overview' }).waitFor();
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('Admin token').waitFor();
      expect(await page.evaluate('sessionStorage.length')).toBe(0);
    } finally {
      await closePage(page);
    }
  });

  it('lists the routes with live numbers that change as traffic flows', async () => {
    const { page } = await signedIn();
    try {
      const rate = page.locator('tr[data-route="orders"] td[data-col="legacy-rate"]');
      await expect.poll(() => rate.textContent()).toBe('0.0/s');
      expect(await page.locator('tr[data-route="users"] td[data-col="modern-percent"]').textContent()).toBe('30%');
      for (let i = 0; i < 40; i++) await fetch(`${gw.proxyUrl}/orders/${i}`).then((r) => r.text());
      await expect.poll(() => rate.textContent(), { timeout: 10_000 }).not.toBe('0.0/s');
      expect(await page.locator('tr[data-route="orders"] td[data-col="legacy-p50"]').textContent()).toMatch(/ ms$/);

      await page.getByLabel('Search by id or prefix').fill('/us');
      await expect.poll(() => page.locator('tbody tr[data-route]').count()).toBe(1);
      expect(await page.locator('tbody tr[data-route]').getAttribute('data-route')).toBe('users');
    } finally {
      await closePage(page);
    }
  });

  it('raises a canary with the slider (keyboard only), and the data plane follows', async () => {
    await createRoute({ id: 'shop', pathPrefix: '/shop', stickyKey: 'header:x-user-id' });
    const { page } = await signedIn('#/routes/shop');
    try {
      const slider = page.getByLabel('Canary share to modern');
      await slider.focus();
      for (let i = 0; i < 5; i++) await page.keyboard.press('PageUp'); // 10% a press
      expect(await slider.inputValue()).toBe('50');
      await page.keyboard.press('Tab'); // to "Set canary…"
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog');
      expect(await dialog.textContent()).toContain('canaryPercent: 0% → 50%');
      expect(await dialog.textContent()).toContain('mode: legacy → canary');
      await page.keyboard.press('Enter'); // the confirm button has the focus
      await page.getByRole('status').filter({ hasText: 'done' }).waitFor();

      const route = (await api('GET', '/routes/shop')).body;
      expect([route.mode, route.canaryPercent, route.version]).toEqual(['canary', 50, 2]);
      const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
      const expected = users.filter((u) => bucketOf(u) < 50).length;
      await expect
        .poll(async () => {
          let modern = 0;
          for (const user of users) {
            const body = (await (await fetch(`${gw.proxyUrl}/shop/x`, { headers: { 'x-user-id': user } })).json()) as any;
            if (body.servedBy === 'modern') modern++;
          }
          return modern;
        })
        .toBe(expected);
      expect(expected).toBeGreaterThan(60);
      expect(expected).toBeLessThan(140);
      // No shadow endpoint answered for this route's mode, so no shadow panel.
      expect(await page.getByRole('heading', { name: 'Shadow results' }).count()).toBe(0);
    } finally {
      await closePage(page);
    }
  });

  it('moves a route along its stages with the stage selector: a skip is refused with the reason, then made with force', async () => {
    await createRoute({ id: 'life', pathPrefix: '/life' });
    const { page } = await signedIn('#/routes/life');
    try {
      const move = async (stage: string) => {
        await page.getByLabel('Stage', { exact: true }).selectOption(stage);
        await page.getByRole('button', { name: 'Move stage…' }).click();
        return page.getByRole('dialog');
      };
      let dialog = await move('canary');
      expect(await dialog.textContent()).toContain('stage: legacy → canary');
      await dialog.getByRole('button', { name: 'Move to canary' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('skips "shadow"');
      expect((await api('GET', '/routes/life')).body).toMatchObject({ stage: 'legacy', version: 1 });

      await page.getByRole('button', { name: 'Reload the route' }).click();
      await page.getByLabel(/force \(skip a stage/).check();
      dialog = await move('canary');
      expect(await dialog.textContent()).toContain('stage: legacy → canary (force)');
      await dialog.getByRole('button', { name: 'Move to canary' }).click();
      await page.getByRole('status').filter({ hasText: 'done' }).waitFor();
      expect((await api('GET', '/routes/life')).body).toMatchObject({ stage: 'canary', mode: 'canary', version: 2 });
      const [last] = (await api('GET', '/routes/life/history')).body.history;
      expect([last.action, last.actor, last.reason]).toEqual(['stage', 'dashboard', expect.stringContaining('(force)')]);
    } finally {
      await closePage(page);
    }
  });

  it('moves a route to modern with the mode selector, then flips it back to legacy with one click and one confirmation', async () => {
    await createRoute({ id: 'pay', pathPrefix: '/pay' });
    const { page } = await signedIn('#/routes/pay');
    try {
      await page.getByLabel('Mode', { exact: true }).selectOption('modern');
      await page.getByRole('button', { name: 'Change mode…' }).click();
      expect(await page.getByRole('dialog').textContent()).toContain('mode: legacy → modern');
      await page.getByRole('dialog').getByRole('button', { name: 'Change mode to modern' }).click();
      await page.getByRole('status').filter({ hasText: 'done' }).waitFor();
      await expect.poll(async () => ((await (await fetch(`${gw.proxyUrl}/pay`)).json()) as any).servedBy).toBe('modern');

      // The flip: in view at 1280×800 without scrolling, one click, one confirmation.
      const flip = page.getByRole('button', { name: 'Flip to legacy' });
      const box = (await flip.boundingBox())!;
      expect(box.y + box.height).toBeLessThanOrEqual(800);
      expect(box.x + box.width).toBeLessThanOrEqual(1280);
      await flip.click();
      await page.getByRole('dialog').getByRole('button', { name: 'Flip to legacy' }).click();
      await page.getByRole('status').filter({ hasText: 'done' }).waitFor();
      expect((await api('GET', '/routes/pay')).body.mode).toBe('legacy');
      await expect.poll(async () => ((await (await fetch(`${gw.proxyUrl}/pay`)).json()) as any).servedBy).toBe('legacy');
      const [last] = (await api('GET', '/routes/pay/history')).body.history;
      expect([last.action, last.actor]).toEqual(['flip', 'dashboard']);
    } finally {
      await closePage(page);
    }
  });

  it('reverts to an earlier version from the history', async () => {
    await createRoute({ id: 'cart', pathPrefix: '/cart' });
    await api('PATCH', '/routes/cart', { mode: 'canary', canaryPercent: 20, version: 1 });
    await api('PATCH', '/routes/cart', { canaryPercent: 40, version: 2 });
    const { page } = await signedIn('#/routes/cart');
    try {
      const v2 = page.locator('tr[data-version="2"]');
      expect(await v2.textContent()).toContain('canaryPercent 0 → 20');
      await v2.getByRole('button', { name: 'Revert to version 2' }).click();
      const dialog = page.getByRole('dialog');
      expect(await dialog.textContent()).toContain('canaryPercent: 40 → 20');
      await dialog.getByLabel('Reason').fill('40% was too much');
      await dialog.getByRole('button', { name: 'Revert to version 2' }).click();
      await page.getByRole('status').filter({ hasText: 'done' }).waitFor();
      const route = (await api('GET', '/routes/cart')).body;
      expect([route.version, route.mode, route.canaryPercent]).toEqual([4, 'canary', 20]);
      const [last] = (await api('GET', '/routes/cart/history')).body.history;
      expect([last.action, last.reason]).toEqual(['rollback', '40% was too much']);
      await page.locator('tr[data-version="4"]').waitFor();
    } finally {
      await closePage(page);
    }
  });

  it('says someone else changed the route when it changed between load and save, and reloads it', async () => {
    await createRoute({ id: 'stock', pathPrefix: '/stock' });
    const { page } = await signedIn('#/routes/stock');
    try {
      await page.getByText('version 1').waitFor();
      expect((await api('PATCH', '/routes/stock', { mode: 'canary', canaryPercent: 10, reason: 'someone else' })).status).toBe(200);
      // The page announces the newer version but keeps showing (and sending) the one it loaded.
      await page.getByRole('status').filter({ hasText: 'changed elsewhere' }).waitFor();
      expect(await page.getByText('version 1 ·').count()).toBe(1);
      await page.getByLabel('Canary share to modern').fill('30');
      await page.getByRole('button', { name: 'Set canary…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Set canary to 30%' }).click();
      const alert = page.getByRole('alert');
      await expect.poll(() => alert.textContent()).toContain('Someone else changed this route');
      expect((await api('GET', '/routes/stock')).body.canaryPercent).toBe(10);
      expect(await page.getByText('version 1 ·').count()).toBe(1); // nothing reloaded behind the message
      await alert.getByRole('button', { name: 'Reload the route' }).click();
      await page.getByText('version 2').waitFor();
      expect(await page.getByLabel('Canary share to modern').inputValue()).toBe('10');
    } finally {
      await closePage(page);
    }
  });

  it("shows an open breaker and closes it with a reset", async () => {
    const down = `http://127.0.0.1:${await freePort()}`; // nothing listens: every modern try is refused
    expect((await api('POST', '/backends', { name: 'down', url: down, role: 'modern' })).status).toBe(201);
    await createRoute({ id: 'flaky', pathPrefix: '/flaky', mode: 'modern', modernBackend: 'down' });
    await expect
      .poll(async () => {
        await fetch(`${gw.proxyUrl}/flaky`).then((r) => r.text()); // falls back to legacy
        return (await breakerOf('flaky')).state;
      })
      .toBe('open');
    const { page } = await signedIn('#/routes/flaky');
    try {
      const state = page.locator('[data-stat="breaker-state"]');
      await expect.poll(() => state.textContent()).toBe('open');
      await page.getByRole('button', { name: 'Reset breaker…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Reset the breaker' }).click();
      await expect.poll(() => state.textContent()).toBe('closed');
      expect((await breakerOf('flaky')).state).toBe('closed');
    } finally {
      await closePage(page);
    }
  });

  it('shows each backend with its role, URL, in-flight count and routes', async () => {
    const { page } = await signedIn('#/backends');
    try {
      const legacy = page.locator('tr[data-backend="legacy"]');
      await legacy.waitFor();
      const text = (await legacy.textContent())!;
      expect(text).toContain(gw.legacy.url);
      expect(text).toContain('0 / 256');
      expect(text).toContain('orders');
      expect(await page.locator('tr[data-backend="modern"]').textContent()).toContain(gw.modern.url);
    } finally {
      await closePage(page);
    }
  });

  it('shows the shadow results of a route in shadow mode: the panel on its page, the match rate in the overview', async () => {
    // Real shadow mode: legacy answers {"servedBy":"legacy",…}, the copy to modern {"servedBy":"modern",…}.
    await createRoute({ id: 'catalog', pathPrefix: '/catalog', mode: 'shadow', shadow: { noisePercent: 0 } });
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${gw.proxyUrl}/catalog/${i}?page=${i}`);
      expect(await res.json()).toMatchObject({ servedBy: 'legacy' });
    }
    // Results are written once a second: wait until the API has them, then look.
    await expect.poll(async () => (await api('GET', '/routes/catalog/shadow')).body.compared, { timeout: 10_000 }).toBe(6);
    const { page } = await signedIn();
    try {
      const match = page.locator('tr[data-route="catalog"] [data-col="shadow-match"]');
      await expect.poll(() => match.textContent(), { timeout: 10_000 }).toBe('0.0% match');
      expect(await page.locator('tr[data-route="users"] [data-col="shadow-match"]').count()).toBe(0);

      await page.goto(`${gw.adminUrl}/ui/#/routes/catalog`);
      const panel = page.getByRole('region', { name: 'Shadow results' });
      await panel.waitFor();
      expect(await panel.locator('[data-stat="shadow-match-rate"]').textContent()).toBe('0.0%');
      expect(await panel.locator('[data-stat="shadow-compared"]').textContent()).toBe('6');
      const text = (await panel.textContent())!;
      for (const part of ['$.servedBy', 'GET /catalog/5?page=', '$.servedBy "legacy" → "modern"']) expect(text).toContain(part);
    } finally {
      await closePage(page);
    }
  });

  it('shows a running rollout and pauses, resumes and aborts it, each after a confirmation', async () => {
    const plan = { steps: [10, 100], holdMs: 600_000, checkMs: 100, minRequests: 1_000 };
    await createRoute({ id: 'ship', pathPrefix: '/ship', stage: 'canary', canaryPercent: 5 });
    expect((await api('POST', '/routes/ship/rollout', { plan })).status).toBe(200);
    const { page } = await signedIn('#/routes/ship');
    try {
      const panel = page.getByRole('region', { name: 'Rollout' });
      await panel.waitFor();
      expect(await panel.locator('[data-stat="rollout-status"]').textContent()).toBe('running');
      expect(await panel.locator('[data-stat="rollout-step"]').textContent()).toBe('1 of 2 (10% to modern)');
      await expect.poll(() => panel.locator('[data-stat="rollout-verdict"]').textContent(), { timeout: 10_000 }).toContain('waiting for traffic');
      const act = async (button: string, confirm: string, status: string) => {
        await panel.getByRole('button', { name: button }).click();
        await page.getByRole('dialog').getByRole('button', { name: confirm }).click();
        await expect.poll(async () => (await api('GET', '/routes/ship/rollout')).body.status).toBe(status);
        // The panel polls every few seconds.
        await expect.poll(() => panel.locator('[data-stat="rollout-status"]').textContent(), { timeout: 10_000 }).toBe(status);
      };
      await act('Pause…', 'Pause the rollout', 'paused');
      await act('Resume…', 'Resume the rollout', 'running');
      await act('Abort…', 'Abort the rollout', 'aborted');
      expect((await api('GET', '/routes/ship')).body).toMatchObject({ mode: 'legacy' });
      expect(await panel.getByRole('button', { name: 'Abort…' }).count()).toBe(0);
    } finally {
      await closePage(page);
    }
  });

  it('is readable at phone width: nothing but the tables scrolls sideways', async () => {
    for (const hash of ['#/', '#/routes/orders', '#/backends']) {
      const { page } = await signedIn(hash, { width: 390, height: 844 });
      try {
        await page.locator('table').first().waitFor();
        // Evaluated in the page (the tests' own TypeScript has no DOM types).
        const wide = await page.evaluate(`[...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > 391 && !e.closest('.scroll'))
          .map((e) => e.tagName + '.' + e.className)`);
        expect({ hash, wide }).toEqual({ hash, wide: [] });
        expect({ hash, width: await page.evaluate('document.documentElement.scrollWidth') }).toEqual({ hash, width: 390 });
        if (hash.startsWith('#/routes/')) {
          const box = (await page.getByRole('button', { name: 'Flip to legacy' }).boundingBox())!;
          expect(box.y + box.height).toBeLessThanOrEqual(844);
        }
      } finally {
        await closePage(page);
      }
    }
  });

  it('opens directly without a token, shows a banner while the gateway is down, and recovers', async () => {
    const port = await freePort(); // the same port again after the restart: the page's origin
    const start = () => startTestGateway({ deps: { uiDir: tb.uiDir }, config: { adminPort: port } });
    let loopback = await start();
    const { page } = await openPage(browser);
    try {
      await page.goto(`${loopback.adminUrl}/ui/`);
      await page.getByRole('heading', { name: 'Migration overview' }).waitFor();
      expect(await page.getByLabel('Admin token').count()).toBe(0);
      await loopback.stop();
      const banner = page.getByRole('alert').filter({ hasText: 'unreachable' });
      await banner.waitFor();
      await banner.getByRole('button', { name: 'Retry now' }).click();
      expect(await banner.count()).toBe(1);
      loopback = await start();
      await expect.poll(() => banner.count(), { timeout: 10_000 }).toBe(0);
    } finally {
      await closePage(page);
      await loopback.stop();
    }
  });

  it('makes no request to any other origin', async () => {
    const { page, requests } = await signedIn();
    try {
      await page.locator('tr[data-route="orders"] a').click();
      await page.getByRole('heading', { name: 'History' }).waitFor();
      await page.getByLabel('Canary share to modern').fill('20');
      await page.getByRole('button', { name: 'Set canary…' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
      expect((await api('GET', '/routes/orders')).body.canaryPercent).toBe(0); // cancelled: nothing changed
      await page.getByRole('link', { name: 'Backends' }).click();
      await page.locator('tr[data-backend="legacy"]').waitFor();
      await page.waitForTimeout(500);
      const origins = new Set(requests.map((r) => new URL(r.url()).origin));
      expect([...origins]).toEqual([gw.adminUrl]);
    } finally {
      await closePage(page);
    }
  });
});
