import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/servers.js';
import { cannedBackend, compared, reportWhen, shadowRoute, type Canned } from '../helpers/shadow.js';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

/** A gateway whose legacy and modern answer `/r/<case>` from the two tables, with route `r` in shadow mode. */
async function shadowOn(legacy: Record<string, Canned | (() => Canned)>, modern: Record<string, Canned | (() => Canned)>, shadow: Record<string, unknown> = {}) {
  gw = await startTestGateway({ legacy: await cannedBackend('legacy', legacy), modern: await cannedBackend('modern', modern) });
  await shadowRoute(gw, 'r', '/r', { noisePercent: 0, ...shadow });
  return gw;
}

async function get(path: string, init?: RequestInit): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(gw!.proxyUrl + path, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

describe('shadow mode: what is compared', () => {
  it('identical answers: 100% match, and the client gets legacy', async () => {
    const same = { body: { id: 7, price: 10 } };
    await shadowOn({ '/r/a': same }, { '/r/a': same });
    for (let i = 0; i < 5; i++) {
      const res = await get('/r/a');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-strangler-backend')).toBe('legacy');
    }
    const report = await reportWhen(gw!, 'r', compared(5));
    expect(report).toMatchObject({ routeId: 'r', mode: 'shadow', compared: 5, matched: 5, mismatched: 0, errors: 0, matchRate: 1 });
    expect(report.latency.modern.p50).not.toBeNull();
    expect(report.samples).toEqual([]);
    // Every copy carries the shadow header; the client's request did not.
    expect(gw!.modern.received.every((r) => r.headers['x-strangler-shadow'] === '1')).toBe(true);
    expect(gw!.legacy.received.every((r) => r.headers['x-strangler-shadow'] === undefined)).toBe(true);
  });

  it('a changed field, a changed status and a missing header are mismatches, with their paths', async () => {
    await shadowOn(
      {
        '/r/field': { body: { id: 7, price: 10 } },
        '/r/status': { body: { ok: true } },
        '/r/header': { headers: { 'cache-control': 'max-age=60' }, body: { ok: true } },
      },
      {
        '/r/field': { body: { id: 7, price: 11 } },
        '/r/status': { status: 201, body: { ok: true } },
        '/r/header': { body: { ok: true } },
      },
    );
    await get('/r/field?page=2&token=secret');
    await get('/r/status');
    await get('/r/header');
    const report = await reportWhen(gw!, 'r', compared(3));
    expect(report).toMatchObject({ compared: 3, matched: 0, mismatched: 3, matchRate: 0 });
    const byPath = Object.fromEntries(report.samples.map((s: any) => [s.path, s]));
    expect(byPath['/r/field?page=&token=']).toMatchObject({ method: 'GET', legacyStatus: 200, modernStatus: 200, differences: [{ path: '$.price', legacy: '10', modern: '11' }] });
    expect(byPath['/r/status'].differences).toEqual([{ path: 'status', legacy: '200', modern: '201' }]);
    expect(byPath['/r/header'].differences).toEqual([{ path: 'headers.cache-control', legacy: 'max-age=60', modern: '(absent)' }]);
    expect(report.topPaths.map((p: any) => p.path).sort()).toEqual(['$.price', 'headers.cache-control', 'status']);
  });

  it('a reordered object matches; a reordered array does not, unless listed in unorderedPaths', async () => {
    await shadowOn(
      { '/r/obj': { body: '{"a":1,"b":{"x":1,"y":2}}' }, '/r/arr': { body: { tags: ['a', 'b', 'c'] } } },
      { '/r/obj': { body: '{"b":{"y":2,"x":1},"a":1}' }, '/r/arr': { body: { tags: ['c', 'a', 'b'] } } },
    );
    await get('/r/obj');
    await get('/r/arr');
    let report = await reportWhen(gw!, 'r', compared(2));
    expect(report).toMatchObject({ matched: 1, mismatched: 1 });
    expect(report.samples[0].path).toBe('/r/arr');
    expect(report.topPaths.map((p: any) => p.path)).toEqual(['$.tags[*]']);

    expect((await fetch(`${gw!.adminUrl}/routes/r`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ shadow: { unorderedPaths: ['$.tags'] } }) })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 150)); // the live table polls the database
    await get('/r/arr');
    report = await reportWhen(gw!, 'r', compared(3));
    expect(report).toMatchObject({ matched: 2, mismatched: 1 });
  });

  it('a timestamp field is learnt as noise (legacy asked twice) and not counted as a mismatch', async () => {
    const stamped = () => ({ body: { id: 1, generatedAt: process.hrtime.bigint().toString() } });
    await shadowOn({ '/r/t': stamped }, { '/r/t': stamped }, { noisePercent: 100 });
    for (let i = 0; i < 3; i++) await get('/r/t');
    const report = await reportWhen(gw!, 'r', compared(3));
    expect(report.noiseFields).toEqual(['$.generatedAt']);
    expect(report).toMatchObject({ matched: 3, mismatched: 0 });
    // Each client request reached legacy twice (the noise sample) and modern once.
    expect(gw!.legacy.received).toHaveLength(6);
    expect(gw!.modern.received).toHaveLength(3);
  });

  it('a 2 MiB answer is compared by length and hash', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 'a');
    const other = Buffer.from(big);
    other[other.length - 1] = 0x62;
    await shadowOn(
      { '/r/same': { headers: { 'content-type': 'application/octet-stream' }, body: big }, '/r/diff': { headers: { 'content-type': 'application/octet-stream' }, body: big } },
      { '/r/same': { headers: { 'content-type': 'application/octet-stream' }, body: big }, '/r/diff': { headers: { 'content-type': 'application/octet-stream' }, body: other } },
    );
    expect((await get('/r/same')).body.length).toBe(big.length);
    expect((await get('/r/diff')).body.length).toBe(big.length);
    const report = await reportWhen(gw!, 'r', compared(2));
    expect(report).toMatchObject({ matched: 1, mismatched: 1 });
    const [difference] = report.samples[0].differences;
    expect(difference.path).toBe('body');
    expect(difference.legacy).toMatch(/^2097152 bytes, sha256 [0-9a-f]{64}$/);
    expect(difference.modern).not.toBe(difference.legacy);
  });

  it('Authorization and listed paths never reach the samples', async () => {
    await shadowOn(
      { '/r/me': { headers: { authorization: 'Bearer legacy-secret' }, body: { user: { email: 'a@example.com', name: 'A' }, list: [{ token: 't1' }] } } },
      { '/r/me': { headers: { authorization: 'Bearer modern-secret' }, body: { user: { email: 'b@example.com', name: 'B' }, list: [] } } },
      { compareHeaders: ['authorization'], redactPaths: ['$.user.email', '$.list[*].token'] },
    );
    await get('/r/me', { headers: { authorization: 'Bearer client-secret', cookie: 'sid=client-cookie' } });
    const report = await reportWhen(gw!, 'r', compared(1));
    const text = JSON.stringify(report);
    for (const secret of ['legacy-secret', 'modern-secret', 'client-secret', 'client-cookie', 'a@example.com', 'b@example.com', 't1']) expect(text).not.toContain(secret);
    const byPath = Object.fromEntries(report.samples[0].differences.map((d: any) => [d.path, d]));
    expect(byPath['headers.authorization']).toEqual({ path: 'headers.authorization', legacy: '[redacted]', modern: '[redacted]' });
    expect(byPath['$.user.email']).toEqual({ path: '$.user.email', legacy: '[redacted]', modern: '[redacted]' });
    expect(byPath['$.user.name']).toEqual({ path: '$.user.name', legacy: '"A"', modern: '"B"' });
    expect(byPath['$.list[0]'].legacy).toBe('{"token":"[redacted]"}');
  });
});
