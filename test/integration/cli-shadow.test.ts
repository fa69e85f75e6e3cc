import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminCli } from '../helpers/cli.js';
import { startTestGateway, type TestGateway } from '../helpers/servers.js';
import { cannedBackend, compared, reportWhen } from '../helpers/shadow.js';

let gw: TestGateway;
beforeEach(async () => {
  gw = await startTestGateway({
    legacy: await cannedBackend('legacy', { '/orders/7': { body: { id: 7, price: 10 } } }),
    modern: await cannedBackend('modern', { '/orders/7': { body: { id: 7, price: 11 } } }),
  });
});
afterEach(() => gw.stop());

const { ok, json } = adminCli(() => gw.adminUrl);

describe('strangler shadow', () => {
  it('sets a route to shadow, shows what differs, clears it; status shows the match rate', async () => {
    await ok(['routes', 'add', 'orders', '--prefix', '/orders', '--mode', 'shadow', '--set', 'shadow.noisePercent=0']);
    await fetch(`${gw.proxyUrl}/orders/7?page=2`).then((r) => r.text());
    await reportWhen(gw, 'orders', compared(1));
    const text = await ok(['shadow', 'orders']);
    expect(text).toContain('compared 1: matched 0, mismatched 1, errors 0; match rate 0%');
    expect(text).toMatch(/latest mismatch: GET \/orders\/7\?page= at .* \(legacy 200, modern 200\)/);
    expect(text).toMatch(/\$\.price\s+10\s+11/);
    expect((await json(['shadow', 'orders'])).topPaths).toEqual([{ path: '$.price', count: 1 }]);
    expect((await ok(['status'])).split('\n')[0]).toBe('routes: 1 (legacy 0, canary 0, modern 0, shadow 1)');
    expect(await ok(['status'])).toMatch(/orders\s+\/orders\s+shadow\s+0\s+closed\s+0% \(1\)/);
    expect(await ok(['shadow', 'orders', 'clear'])).toBe('shadow results of orders cleared');
    expect((await json(['shadow', 'orders'])).compared).toBe(0);
  });
});
