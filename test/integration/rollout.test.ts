import { afterEach, describe, expect, it } from 'vitest';
import { adminCli } from '../helpers/cli.js';
import { startLoad, until } from '../helpers/rollout.js';
import { startBackend, startTestGateway, type TestGateway } from '../helpers/servers.js';

/** A rollout driven by one gateway, with real backends and a plan short enough to run in seconds. */
let gw: TestGateway | undefined;
let load: { stop: () => Promise<void> } | undefined;
afterEach(async () => {
  await load?.stop();
  await gw?.stop();
  gw = load = undefined;
});

const { ok, json } = adminCli(() => gw!.adminUrl);

// A latency SLO this loose: on a shared, busy machine a stall must not roll a healthy modern back (the latency rule has its unit tests).
const PLAN = { steps: [20, 50, 100], holdMs: 300, checkMs: 50, minRequests: 10, minLatencySlackMs: 60_000 };

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw!.adminUrl}${path}`, {
    method,
    headers: { 'x-actor': 'alice', ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function gatewayWithModern(broken: { now: boolean }) {
  const modern = await startBackend('modern', (req, res) => {
    req.resume();
    res.writeHead(broken.now ? 500 : 200, { 'content-type': 'application/json' }).end('{"servedBy":"modern"}');
  });
  gw = await startTestGateway({ modern });
  expect((await call('POST', '/routes', { id: 'orders', pathPrefix: '/orders', stage: 'canary', rollout: PLAN })).status).toBe(201);
  load = startLoad([`${gw.proxyUrl}/orders/1`]);
}

describe('a rollout driven by the gateway', () => {
  it('walks a healthy modern through every step to modern, each move a route change by `rollout` with the figures', async () => {
    await gatewayWithModern({ now: false });
    const started = await call('POST', '/routes/orders/rollout', {});
    expect(started).toMatchObject({ status: 200, body: { status: 'running', step: 0, percent: 20, plan: PLAN } });
    expect(started.body.leader).toMatch(/:\d+$/);
    const done = await until(() => call('GET', '/routes/orders/rollout'), (r) => r.body.status !== 'running');
    expect(done.body).toMatchObject({ status: 'completed', percent: 100 });
    expect((await call('GET', '/routes/orders')).body).toMatchObject({ stage: 'modern', mode: 'modern' });
    const moves = (await call('GET', '/routes/orders/history')).body.history.filter((h: any) => h.actor === 'rollout');
    expect(moves.map((h: any) => [h.action, h.after.stage, h.after.canaryPercent])).toEqual([
      ['rollout', 'modern', 0],
      ['rollout', 'canary', 100],
      ['rollout', 'canary', 50],
      ['rollout', 'canary', 20],
    ]);
    expect(moves[0].reason).toMatch(/^rollout complete after step 3 of 3 \(100%\): SLO met over \d+ modern requests \(error rate 0% vs legacy 0%/);
    expect(moves[3].reason).toBe('rollout started from canary: step 1 of 3 (20%) (by alice)');
  });

  it('rolls back to legacy at the next check when modern starts failing mid-rollout, with the figures in the history', async () => {
    const broken = { now: false };
    await gatewayWithModern(broken);
    await call('POST', '/routes/orders/rollout', {});
    await until(() => call('GET', '/routes/orders/rollout'), (r) => r.body.percent === 50);
    broken.now = true;
    const brokeAt = performance.now();
    const after = await until(() => call('GET', '/routes/orders/rollout'), (r) => r.body.status !== 'running');
    const ms = performance.now() - brokeAt;
    expect(after.body).toMatchObject({ status: 'rolled-back', percent: 0, verdict: { kind: 'fail' } });
    const route = (await call('GET', '/routes/orders')).body;
    expect(route).toMatchObject({ stage: 'legacy', mode: 'legacy' });
    const [last] = (await call('GET', '/routes/orders/history')).body.history;
    expect(last).toMatchObject({ actor: 'rollout', action: 'rollout' });
    expect(last.reason).toMatch(/^rolled back at step 2 of 3 \(50%\): modern error rate [\d.]+% > legacy 0% \+ 1%$/);
    console.log(`[figures] rollout: modern failing at 50% → rolled back to legacy in ${Math.round(ms)} ms (checkMs ${PLAN.checkMs}, ${after.body.window.modern.requests} modern requests in the window)`);
  });

  it('stops, and leaves the route alone, when someone else changes it mid-rollout (a flip to legacy is never undone)', async () => {
    await gatewayWithModern({ now: false });
    await call('POST', '/routes/orders/rollout', {});
    expect((await call('POST', '/routes/orders/flip', { to: 'legacy', reason: '3 a.m.' })).status).toBe(200);
    // The next check sees a version the rollout did not write (and a move would expect the one it wrote).
    const after = await until(() => call('GET', '/routes/orders/rollout'), (r) => r.body.status !== 'running');
    expect(after.body).toMatchObject({ status: 'aborted', verdict: { kind: 'fail' } });
    expect(after.body.verdict.reason).toBe('the route was changed by someone else during the rollout (after version 2): the rollout stopped and left the route as they set it');
    await new Promise((r) => setTimeout(r, 3 * PLAN.holdMs));
    expect((await call('GET', '/routes/orders')).body).toMatchObject({ stage: 'legacy', mode: 'legacy' });
    const [last] = (await call('GET', '/routes/orders/history')).body.history;
    expect([last.action, last.actor]).toEqual(['flip', 'alice']);
  });

  it('pauses, resumes and aborts; refuses a start from legacy without force, and a second start', async () => {
    await gatewayWithModern({ now: false });
    expect(await call('GET', '/routes/orders/rollout')).toMatchObject({ status: 404, body: { error: { code: 'ROLLOUT_NOT_FOUND' } } });
    await call('POST', '/routes/orders/rollout', { plan: { ...PLAN, holdMs: 60_000 } });
    expect(await call('POST', '/routes/orders/rollout', {})).toMatchObject({ status: 409, body: { error: { code: 'ROLLOUT_RUNNING' } } });
    expect(await ok(['rollout', 'pause', 'orders'])).toMatch(/^orders: paused, step 1 of 3 \(20%\) since \S+, leader \S+:\d+\n {2}modern {2}\d+ requests, error rate 0%/);
    expect(await json(['rollout', 'resume', 'orders'])).toMatchObject({ status: 'running', pausedAt: null });
    expect(await call('POST', '/routes/orders/rollout/pause')).toMatchObject({ status: 200, body: { status: 'paused' } });
    expect((await call('POST', '/routes/orders/rollout/resume')).body).toMatchObject({ status: 'running', pausedAt: null });
    expect((await call('POST', '/routes/orders/rollout/abort')).body).toMatchObject({ status: 'aborted', percent: 0 });
    expect((await call('GET', '/routes/orders')).body).toMatchObject({ stage: 'legacy' });
    expect(await call('POST', '/routes/orders/rollout', {})).toMatchObject({ status: 409, body: { error: { code: 'ROLLOUT_NOT_READY' } } });
    expect((await call('POST', '/routes/orders/rollout', { force: true, plan: { steps: [10] } })).body).toMatchObject({ status: 'running', percent: 10 });
    expect(await call('POST', '/routes/orders/rollout', { plan: { steps: [50, 10] } })).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });
  });
});
