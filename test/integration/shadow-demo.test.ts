import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLegacyServer } from '../../legacy/server.js';
import { createModernServer } from '../../modern/server.js';
import { closeServer, startTestGateway, type StubBackend, type TestGateway } from '../helpers/servers.js';
import { compared, reportWhen, shadowRoute } from '../helpers/shadow.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

async function asBackend(name: string, server: Server): Promise<StubBackend> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { name, url: `http://127.0.0.1:${port}`, received: [], server, close: () => closeServer(server) };
}

describe('the demo in shadow mode (README "Shadow mode")', () => {
  it('finds the one field where modern differs from legacy on /stock', async () => {
    gw = await startTestGateway({ legacy: await asBackend('legacy', createLegacyServer()), modern: await asBackend('modern', createModernServer({})) });
    await shadowRoute(gw, 'stock', '/stock', {}, { timeoutMs: 5_000 });
    for (const sku of ['TEA-001', 'MUG-002', 'KTL-003']) {
      const res = await fetch(`${gw.proxyUrl}/stock/${sku}`);
      expect(res.headers.get('x-strangler-backend')).toBe('legacy');
      await res.text();
    }
    const report = await reportWhen(gw, 'stock', compared(3));
    expect(report).toMatchObject({ compared: 3, matched: 2, mismatched: 1, errors: 0 });
    expect(report.topPaths).toEqual([{ path: '$.available', count: 1 }]);
    expect(report.samples[0]).toMatchObject({ path: '/stock/MUG-002', differences: [{ path: '$.available', legacy: '9', modern: '12' }] });
  });
});
