import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adminCli } from '../helpers/cli.js';
import { startTestGateway, type TestGateway } from '../helpers/servers.js';

/** The route lifecycle through the admin API and the CLI, with a clock that can jump a week. */
let gw: TestGateway;
let offset = 0;
beforeEach(async () => {
  offset = 0;
  gw = await startTestGateway({ deps: { clock: { now: () => Date.now() + offset } } });
});
afterEach(() => gw.stop());

const { cli, ok, json } = adminCli(() => gw.adminUrl);

async function call(method: string, path: string, body?: unknown, actor = 'alice') {
  const res = await fetch(`${gw.adminUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-actor': actor },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}
const stage = (to: string, extra: Record<string, unknown> = {}) => call('POST', '/routes/orders/stage', { stage: to, ...extra });

describe('the route lifecycle', () => {
  it('moves forward one stage at a time, back freely, retires only after retireAfterMs in modern, and leaves retired only with force', async () => {
    expect((await call('POST', '/routes', { id: 'orders', pathPrefix: '/orders' })).body).toMatchObject({ mode: 'legacy', stage: 'legacy' });
    const skipped = await stage('canary');
    expect(skipped).toMatchObject({ status: 409, body: { error: { code: 'STAGE_SKIPPED' } } });
    expect(skipped.body.error.message).toContain('skips "shadow"');
    expect((await stage('shadow')).body).toMatchObject({ stage: 'shadow', mode: 'shadow' });
    expect((await stage('canary')).body).toMatchObject({ stage: 'canary', mode: 'canary' });
    expect((await stage('legacy')).body).toMatchObject({ stage: 'legacy', mode: 'legacy' });
    expect((await stage('modern', { force: true })).body).toMatchObject({ stage: 'modern', mode: 'modern' });
    expect(await stage('retired')).toMatchObject({ status: 409, body: { error: { code: 'RETIRE_TOO_EARLY' } } });

    offset = 8 * 86_400_000;
    const retired = await stage('retired', { reason: 'legacy orders code deleted' });
    expect(retired.body).toMatchObject({ stage: 'retired', mode: 'modern', resilience: { fallback: false, fallthroughStatuses: [], hedgeAfterMs: null } });
    expect(await call('POST', '/routes/orders/flip', { to: 'legacy' })).toMatchObject({ status: 409, body: { error: { code: 'STAGE_RETIRED' } } });
    expect(await call('PATCH', '/routes/orders', { resilience: { fallback: true } })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect(await stage('modern')).toMatchObject({ status: 409, body: { error: { code: 'STAGE_RETIRED' } } });
    expect(await call('PATCH', '/routes/orders', { stage: 'modern' })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
    expect((await stage('legacy', { force: true })).body).toMatchObject({ stage: 'legacy', mode: 'legacy' });

    const { history } = (await call('GET', '/routes/orders/history')).body;
    expect(history.slice(0, 3).map((h: any) => [h.action, h.actor, h.reason])).toEqual([
      ['stage', 'alice', 'stage retired → legacy (force)'],
      ['stage', 'alice', 'stage modern → retired: legacy orders code deleted'],
      ['stage', 'alice', 'stage legacy → modern (force)'],
    ]);
  });

  it('refuses to retire for a day after a fallback on any gateway on the database (the store keeps the latest)', async () => {
    await call('POST', '/routes', { id: 'orders', pathPrefix: '/orders' });
    await stage('modern', { force: true });
    offset = 8 * 86_400_000;
    // Another gateway on the same database wrote a fallback an hour ago.
    await gw.store.rollouts.noteFallbacks(new Map([['orders', Date.now() + offset - 3_600_000]]));
    const refused = await stage('retired');
    expect(refused).toMatchObject({ status: 409, body: { error: { code: 'RETIRE_TOO_EARLY' } } });
    expect(refused.body.error.message).toMatch(/^the route fell back to legacy 0\.04 days ago/);
    offset += 86_400_000;
    expect((await stage('retired')).body).toMatchObject({ stage: 'retired' });
  });

  it('strangler routes stage moves a route, refuses a skip with the API\'s code, and lists the stage', async () => {
    await ok(['routes', 'add', 'orders', '--prefix', '/orders']);
    expect(await ok(['routes', 'stage', 'orders', 'shadow'])).toBe('orders v2: /orders → legacy');
    const refused = await cli(['routes', 'stage', 'orders', 'modern']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('STAGE_SKIPPED');
    expect((await json(['routes', 'stage', 'orders', 'modern', '--force'])).stage).toBe('modern');
    expect(await ok(['routes', 'list'])).toMatch(/orders\s+\/orders\s+modern\s+modern/);
  });
});
