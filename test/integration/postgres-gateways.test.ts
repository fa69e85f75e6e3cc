import pg from 'pg';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_APP, WRITE_LOCK } from '../../src/store/postgres-schema.js';
import { runCli } from '../helpers/cli.js';
import { adminCall, checkStoreAt, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { TEST_PG_PASSWORD, requirePostgres, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startBackend, type StubBackend } from '../helpers/servers.js';

/**
 * Issue 15: gateway processes (standing for gateways on different hosts) sharing one PostgreSQL
 * database. A change on one reaches the others through NOTIFY (and the poll when a notification
 * is lost); PostgreSQL going away is no outage for the data plane; a gateway cannot start without it.
 * The cluster is this file's own (helpers/postgres.ts), so the test can stop and start it.
 */

const HAS_PG = requirePostgres('the PostgreSQL gateway tests');
let cluster: TestPostgres;
let legacy: StubBackend;
let modern: StubBackend;
let gateways: GatewayProcess[] = [];
let db: string;

beforeAll(async () => {
  if (!HAS_PG) return;
  [cluster, legacy, modern] = await Promise.all([startPostgres(), startBackend('legacy'), startBackend('modern')]);
  db = await cluster.createDatabase();
  gateways = await Promise.all([0, 1, 2].map(() => spawnGateway(db, { legacy, modern }, ['--access-log', 'off'])));
  expect((await adminCall(gateways[0]!.admin, 'POST', '/routes', { id: 'orders', pathPrefix: '/orders' })).status).toBe(201);
}, 90_000);

afterAll(async () => {
  for (const g of gateways) g.run.kill('SIGKILL');
  await Promise.all(gateways.map((g) => g.run.exited));
  await Promise.all([legacy?.close(), modern?.close()]);
  cluster?.cleanup();
});

/** Which backend `gateway` sends /orders to now. */
async function servedBy(gateway: GatewayProcess): Promise<string> {
  const res = await fetch(`${gateway.proxy}/orders/1`);
  return ((await res.json()) as { servedBy: string }).servedBy;
}

/** Waits until every gateway sends /orders to `side`; returns how long the slowest took, in ms. */
async function everyoneServes(side: string, from: number): Promise<number> {
  const took = await Promise.all(
    gateways.map(async (g) => {
      for (let i = 0; i < 1_000; i++) {
        if ((await servedBy(g)) === side) return performance.now() - from;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error(`gateway ${g.proxy} never served /orders from ${side}`);
    }),
  );
  return Math.round(Math.max(...took));
}

async function flip(gateway: GatewayProcess, to: string, reason: string) {
  const current = await adminCall(gateway.admin, 'GET', '/routes/orders');
  return adminCall(gateway.admin, 'POST', '/routes/orders/flip', { to, reason }, { 'if-match': `"${current.body.version}"` });
}

/** GETs through every gateway, back to back, until stopped; counts answers other than 200. */
function keepLoading(targets: GatewayProcess[]) {
  let running = true;
  const counts = { ok: 0, failed: 0 };
  const loops = targets.map(async (g) => {
    const pool = new Pool(g.proxy, { connections: 2 });
    while (running) {
      try {
        const res = await pool.request({ path: '/orders/1', method: 'GET', headersTimeout: 10_000 });
        await res.body.dump();
        if (res.statusCode === 200) counts.ok++;
        else counts.failed++;
      } catch {
        counts.failed++;
      }
    }
    await pool.close();
  });
  return {
    counts,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return counts;
    },
  };
}

async function readyz(gateway: GatewayProcess) {
  return adminCall(gateway.admin, 'GET', '/readyz');
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting until ${what}`);
}

describe.skipIf(!HAS_PG)('gateways on one PostgreSQL database', () => {
  it('three gateways see a flip made on one of them (NOTIFY carries the feed position)', async () => {
    await everyoneServes('legacy', performance.now());
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const to = i % 2 === 0 ? 'modern' : 'legacy';
      const started = performance.now();
      expect((await flip(gateways[i % 3]!, to, `propagation ${i}`)).status).toBe(200);
      samples.push(await everyoneServes(to, started));
    }
    console.log(`[figures] postgres propagation: a flip on one gateway served by all three after ${samples.join(', ')} ms (issue bound: 1000 ms)`);
    // The listing each gateway serves agrees too.
    const versions = await Promise.all(gateways.map(async (g) => (await adminCall(g.admin, 'GET', '/routes/orders')).body.version));
    expect(new Set(versions).size).toBe(1);
  }, 60_000);

  it('writers on all three gateways at once: every gateway applies every change (none skipped by a late commit)', async () => {
    const PER_WRITER = 20;
    const writers = gateways.flatMap((g, gi) =>
      [0, 1, 2, 3].map(async (w) => {
        for (let i = 0; i < PER_WRITER; i++) {
          const id = `c-${gi}-${w}-${i}`;
          expect((await adminCall(g.admin, 'POST', '/routes', { id, pathPrefix: `/${id}` })).status).toBe(201);
          expect((await adminCall(g.admin, 'POST', `/routes/${id}/flip`, { to: 'modern' }, { 'if-match': '"1"' })).status).toBe(200);
        }
      }),
    );
    await Promise.all(writers);
    const ids = gateways.flatMap((_, gi) => [0, 1, 2, 3].flatMap((w) => Array.from({ length: PER_WRITER }, (_, i) => `c-${gi}-${w}-${i}`)));
    // A change a reader skipped stays unseen for good (its position is already past it), so
    // looking again until all are seen, or for 10 s, fails only on a skipped change.
    let stale = gateways.flatMap((g) => ids.map((id) => ({ g, id })));
    for (let round = 0; stale.length > 0 && round < 100; round++) {
      if (round > 0) await new Promise((r) => setTimeout(r, 100));
      const seen = await Promise.all(stale.map(async ({ g, id }) => ((await (await fetch(`${g.proxy}/${id}/x`)).json()) as { servedBy: string }).servedBy === 'modern'));
      stale = stale.filter((_, i) => !seen[i]);
    }
    expect(stale.map(({ g, id }) => `${g.proxy} ${id}`)).toEqual([]);
    console.log(`[figures] postgres concurrent writers: 12 writers on 3 gateways, ${ids.length * 2} changes, every one applied by all 3 gateways (${stale.length} missed)`);
  }, 120_000);

  it('a lost notification (listener connections killed with pg_terminate_backend) is covered', async () => {
    const killed = await cluster.sql(
      'postgres',
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'strangler-gateway' AND query LIKE 'LISTEN%'",
    );
    expect(killed.rowCount).toBe(3);
    const started = performance.now();
    const to = (await servedBy(gateways[0]!)) === 'modern' ? 'legacy' : 'modern';
    expect((await flip(gateways[0]!, to, 'after the listeners were killed')).status).toBe(200);
    const took = await everyoneServes(to, started);

    // A change committed with no NOTIFY at all (as by hand, in SQL, under the write lock): only the poll can find it.
    const back = to === 'modern' ? 'legacy' : 'modern';
    const route = (await adminCall(gateways[0]!.admin, 'GET', '/routes/orders')).body;
    const next = { ...route, mode: back, version: route.version + 1 };
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_APP, WRITE_LOCK]);
      await client.query("UPDATE routes SET mode = $1, version = $2 WHERE id = 'orders'", [back, next.version]);
      await client.query(
        `INSERT INTO route_history (seq, route_id, version, action, before, after, actor, reason, at)
         VALUES ((SELECT MAX(seq) + 1 FROM route_history), 'orders', $1, 'flip', $2, $3, 'sql', 'no notify', $4)`,
        [next.version, JSON.stringify(route), JSON.stringify(next), new Date().toISOString()],
      );
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    const polled = await everyoneServes(back, performance.now());
    console.log(`[figures] postgres lost NOTIFY: listeners killed, the next flip served by all three after ${took} ms; a change with no NOTIFY found by the poll after ${polled} ms`);
  }, 60_000);

  it('PostgreSQL stopped under load: 0 failed requests, ready but degraded, writes 503 and written nowhere; restarted: writes resume and everyone catches up', async () => {
    const side = await servedBy(gateways[0]!);
    const other = side === 'modern' ? 'legacy' : 'modern';
    const load = keepLoading(gateways);
    await new Promise((r) => setTimeout(r, 300));
    cluster.stop('fast');
    try {
      for (const g of gateways) await until('the store is degraded', async () => (await readyz(g)).body.store === 'degraded');
      for (const g of gateways) {
        const ready = await readyz(g);
        expect(ready.status).toBe(200);
        expect(ready.body).toMatchObject({ status: 'ready', store: 'degraded' });
        const write = await fetch(`${g.admin}/routes/orders/flip`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: other, reason: 'during the outage' }),
        });
        expect(write.status).toBe(503);
        expect(write.headers.get('retry-after')).toBe('1');
        expect(((await write.json()) as { error: { code: string } }).error.code).toBe('STORE_UNAVAILABLE');
        expect(await servedBy(g)).toBe(side);
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      cluster.start();
    }
    for (const g of gateways) await until('the store is ok again', async () => (await readyz(g)).body.store === 'ok');
    const started = performance.now();
    expect((await flip(gateways[1]!, other, 'after the outage')).status).toBe(200);
    const took = await everyoneServes(other, started);
    const counts = await load.stop();
    expect(counts.failed).toBe(0);
    expect(counts.ok).toBeGreaterThan(100);

    const { history } = await checkStoreAt(db);
    const reasons = history.get('orders')!.map((h) => h.reason);
    expect(reasons).not.toContain('during the outage');
    expect(reasons).toContain('after the outage');
    console.log(`[figures] postgres outage: ${counts.ok} requests through three gateways while PostgreSQL was stopped and restarted, ${counts.failed} failed; writes 503 meanwhile, none written; after the restart a flip served by all three after ${took} ms`);
    for (const g of gateways) expect([...g.run.stdout, ...g.run.stderr].join('\n')).not.toContain(TEST_PG_PASSWORD);
  }, 120_000);

  it('the log names the database with its password redacted', async () => {
    const listening = await gateways[0]!.run.waitForLog('gateway listening');
    expect(listening.store).toBe(db.replace(TEST_PG_PASSWORD, '***'));
  });
});

describe.skipIf(!HAS_PG)('without PostgreSQL', () => {
  it('serve exits 2 with one clear line, the password redacted', async () => {
    const url = `postgres://strangler:${TEST_PG_PASSWORD}@127.0.0.1:1/routes`;
    const run = runCli(['serve', '--db', url, '--legacy', 'http://127.0.0.1:9', '--modern', 'http://127.0.0.1:9', '--port', '0', '--admin-port', '0']);
    expect(await run.exited).toBe(2);
    expect(run.stderr).toHaveLength(1);
    expect(run.stderr[0]).toMatch(/^strangler: cannot open route database postgres:\/\/strangler:\*\*\*@127\.0\.0\.1:1\/routes: .*ECONNREFUSED/);
    expect([...run.stdout, ...run.stderr].join('\n')).not.toContain(TEST_PG_PASSWORD);
  }, 30_000);

  it('backup explains pg_dump and exits 2', async () => {
    const run = runCli(['backup', 'copy.db'], { STRANGLER_DB: `postgresql://strangler:${TEST_PG_PASSWORD}@db.internal/routes?sslmode=require` });
    expect(await run.exited).toBe(2);
    expect(run.stderr.join('\n')).toMatch(/pg_dump/);
    expect(run.stderr.join('\n')).not.toContain(TEST_PG_PASSWORD);
  }, 30_000);
});
