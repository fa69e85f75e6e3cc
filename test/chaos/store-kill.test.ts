import { isDeepStrictEqual } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { adminCall, checkStoreAt, serveArgs, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { storeEngines } from '../helpers/postgres.js';
import { startBackend } from '../helpers/servers.js';

/**
 * Issue 6 part 6 (b), and issue 15 on PostgreSQL: a gateway applying admin writes is SIGKILLed
 * at random points, again and again, on one database. After every kill the database must pass `integrity_check`, hold every
 * change the gateway acknowledged, and keep route versions equal to their history; and the
 * gateway must start on it again.
 */

const CHAOS = process.env.CHAOS === '1';
const KILLS = Number(process.env.STORE_KILLS ?? (CHAOS ? 200 : 12));
const ROUTES = ['orders', 'users', 'catalog', 'search'];
const WRITERS = 3;

/** A change the gateway answered 2xx: it must be in the history after any crash. */
interface Ack {
  route: string;
  version: number;
  /** The history action it recorded; undefined for a change that changed nothing. */
  action: string | undefined;
  /** The route as the answer described it (absent for a delete). */
  after?: Record<string, unknown>;
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One random admin write; records it in `acks` when acknowledged. */
async function write(admin: string, n: number, acks: Ack[]): Promise<void> {
  const route = ROUTES[Math.floor(Math.random() * ROUTES.length)]!;
  const current = await adminCall(admin, 'GET', `/routes/${route}`);
  const headers: Record<string, string> = { 'x-actor': 'chaos' };
  if (current.status === 200) headers['if-match'] = `"${current.body.version}"`;
  const pick = Math.random();
  let res;
  let action;
  if (current.status === 404) {
    [action, res] = ['create', await adminCall(admin, 'POST', '/routes', { id: route, pathPrefix: `/${route}`, reason: `n${n}` }, headers)];
  } else if (pick < 0.55) {
    [action, res] = ['update', await adminCall(admin, 'PATCH', `/routes/${route}`, { timeoutMs: 1000 + n, canaryPercent: n % 101, mode: 'canary' }, headers)];
  } else if (pick < 0.75) {
    [action, res] = ['flip', await adminCall(admin, 'POST', `/routes/${route}/flip`, { to: n % 2 === 0 ? 'modern' : 'legacy' }, headers)];
  } else if (pick < 0.92) {
    [action, res] = ['rollback', await adminCall(admin, 'POST', `/routes/${route}/rollback`, {}, headers)];
  } else {
    [action, res] = ['delete', await adminCall(admin, 'DELETE', `/routes/${route}`, { reason: 'chaos' }, headers)];
  }
  if (res.status === 204) acks.push({ route, action, version: current.body.version + 1 });
  else if (res.status < 300) {
    // A change that changes nothing (a flip to the mode it has) is answered without a new version.
    const noop = current.status === 200 && res.body.version === current.body.version;
    acks.push({ route, action: noop ? undefined : action, version: res.body.version, after: res.body });
  }
  else expect([404, 409], `${action} ${route}: ${JSON.stringify(res.body)}`).toContain(res.status);
}

/** Writers that keep going until the gateway dies under them. */
function writeUntilKilled(gateway: GatewayProcess, acks: Ack[], counter: { n: number }): Promise<void> {
  const writer = async () => {
    for (;;) {
      try {
        await write(gateway.admin, counter.n++, acks);
      } catch (err) {
        if (gateway.run.child.exitCode !== null || gateway.run.child.signalCode !== null || isConnectionError(err)) return;
        throw err;
      }
    }
  };
  return Promise.all(Array.from({ length: WRITERS }, writer)).then(() => undefined);
}

function isConnectionError(err: unknown): boolean {
  return err instanceof TypeError && /fetch failed/.test(err.message);
}

/** Every acknowledged change is in the history, exactly as it was answered. */
async function missing(db: string, acks: Ack[]): Promise<Ack[]> {
  const { history } = await checkStoreAt(db);
  return acks.filter((ack) => {
    const row = history.get(ack.route)?.find((r) => r.version === ack.version);
    if (row === undefined || (ack.action !== undefined && row.action !== ack.action)) return true;
    return ack.after !== undefined && !isDeepStrictEqual(JSON.parse(row.after!), ack.after);
  });
}

describe.each(storeEngines('the SIGKILL test'))('a gateway SIGKILLed while applying admin writes on $name', ({ name, database }) => {
  const figures = { kills: 0, killedBeforeListening: 0, acks: 0, lost: 0 };
  afterAll(() => {
    console.log(
      `[figures] SIGKILL (${name}): ${figures.kills} kills survived (${figures.killedBeforeListening} during start-up), ` +
        `${figures.acks} acknowledged changes, ${figures.lost} changes lost`,
    );
  });

  it(
    `loses no acknowledged change over ${KILLS} kills`,
    async () => {
      const [legacy, modern] = await Promise.all([startBackend('legacy'), startBackend('modern')]);
      const temp = await database();
      cleanups.push(temp.cleanup, () => legacy.close(), () => modern.close());
      const acks: Ack[] = [];
      const counter = { n: 0 };

      for (let kill = 0; kill < KILLS; kill++) {
        if (kill % 10 === 9) {
          // Now and then the kill lands during start-up: opening, migrating, listening.
          const run = runCli(serveArgs(temp.db, { legacy: legacy!, modern: modern! }));
          await new Promise((r) => setTimeout(r, Math.random() * 800));
          if (!run.stdout.some((line) => line.includes('gateway listening'))) figures.killedBeforeListening++;
          run.kill('SIGKILL');
          await run.exited;
        } else {
          const gateway = await spawnGateway(temp.db, { legacy: legacy!, modern: modern! });
          cleanups.push(() => gateway.run.kill('SIGKILL'));
          const writing = writeUntilKilled(gateway, acks, counter);
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 200));
          gateway.run.kill('SIGKILL');
          expect(await gateway.run.exited).toBeNull();
          await writing;
        }
        figures.kills++;
        const lost = await missing(temp.db, acks);
        figures.lost += lost.length;
        expect(lost, `after kill ${kill + 1}`).toEqual([]);
      }
      figures.acks = acks.length;
      expect(acks.length).toBeGreaterThan(KILLS);

      // And a gateway started on the result serves exactly what the database holds.
      const final = await spawnGateway(temp.db, { legacy: legacy!, modern: modern! });
      cleanups.push(() => final.run.kill('SIGKILL'));
      const { routes } = await checkStoreAt(temp.db);
      const served = (await adminCall(final.admin, 'GET', '/routes')).body.routes as { id: string; version: number }[];
      expect(served.map((r) => [r.id, r.version]).sort()).toEqual(routes.map((r) => [r.id, r.version]).sort());
      final.run.kill('SIGTERM');
      expect(await final.run.exited).toBe(0);
    },
    CHAOS ? 1_800_000 : 90_000,
  );
});
