import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { adminCall, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { storeEngines } from '../helpers/postgres.js';
import { startLoad, until } from '../helpers/rollout.js';
import { startBackend, type StubBackend } from '../helpers/servers.js';

/**
 * Issue 17, point 4: two gateway processes on one database, one rollout. Exactly one drives it
 * (the lease in the store), its verdicts count the other's traffic (the published windows), and
 * when it is killed the other takes over and finishes, with no step taken twice. Times are
 * printed as figures, never asserted; the only bounds are generous timeouts.
 */

// A latency SLO this loose: on a shared, busy machine a stall must not roll a healthy modern back (the latency rule has its unit tests).
const PLAN = { steps: [10, 30, 60, 100], holdMs: 1_200, checkMs: 100, minRequests: 10, minLatencySlackMs: 60_000 };

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function backend(name: string): Promise<StubBackend> {
  const b = await startBackend(name);
  cleanups.push(() => b.close());
  return b;
}

async function gateway(db: string, backends: { legacy: StubBackend; modern: StubBackend }): Promise<GatewayProcess> {
  const g = await spawnGateway(db, backends, ['--access-log', 'off']);
  cleanups.push(async () => {
    g.run.kill('SIGKILL');
    await g.run.exited;
  });
  return g;
}

describe.each(storeEngines('the two-gateway rollout test'))('a rollout shared by two gateways ($name)', (engine) => {
  it('is driven by one, counts the traffic of both, and survives its leader being killed with no step taken twice', async () => {
    const [legacy, modern] = await Promise.all([backend('legacy'), backend('modern')]);
    const database = await engine.database();
    cleanups.push(() => database.cleanup());
    const a = await gateway(database.db, { legacy, modern });
    const b = await gateway(database.db, { legacy, modern });
    const nameOf = (g: GatewayProcess) => `${hostname()}:${g.run.child.pid}`;
    expect((await adminCall(a.admin, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders', stage: 'canary', rollout: PLAN })).status).toBe(201);

    // Traffic reaches B only: A, the leader, can advance only on the counts B publishes.
    const load = startLoad([`${b.proxy}/orders/1`], 3);
    cleanups.push(load.stop);
    expect(await adminCall(a.admin, 'POST', '/routes/orders/rollout', {})).toMatchObject({ status: 200, body: { leader: nameOf(a), percent: 10 } });
    const seenByB = await until(() => adminCall(b.admin, 'GET', '/routes/orders/rollout'), (r) => r.status === 200 && r.body.percent >= 30);
    expect(seenByB.body).toMatchObject({ leader: nameOf(a), status: 'running' });

    a.run.kill('SIGKILL');
    const killedAt = Date.now();
    await a.run.exited;
    const takenOver = await until(() => adminCall(b.admin, 'GET', '/routes/orders/rollout'), (r) => r.body.leader === nameOf(b));
    console.log(`rollout (${engine.name}): leader killed at step ${takenOver.body.step + 1}; the other gateway took over after ${Date.now() - killedAt} ms (checkMs ${PLAN.checkMs})`);

    const done = await until(() => adminCall(b.admin, 'GET', '/routes/orders/rollout'), (r) => r.body.status !== 'running');
    expect(done.body, JSON.stringify(done.body.verdict)).toMatchObject({ status: 'completed', percent: 100, leader: nameOf(b) });
    const history = (await adminCall(b.admin, 'GET', '/routes/orders/history')).body.history as { actor: string; after: { stage: string; canaryPercent: number } }[];
    const moves = history.filter((h) => h.actor === 'rollout').map((h) => `${h.after.stage} ${h.after.canaryPercent}`).reverse();
    // Every step once, in order, whichever gateway took it.
    expect(moves).toEqual(['canary 10', 'canary 30', 'canary 60', 'canary 100', 'modern 0']);
  }, 90_000);
});
