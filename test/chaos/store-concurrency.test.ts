import { afterEach, describe, expect, it } from 'vitest';
import { adminCall, checkStoreAt, spawnGateway, type GatewayProcess } from '../helpers/gateway-process.js';
import { storeEngines } from '../helpers/postgres.js';
import { startBackend } from '../helpers/servers.js';

/**
 * Issue 6 part 6 (a): two gateway processes share one database, and a client of each sends
 * conditional PATCHes (read the version, then `If-Match` it) to the same routes at once.
 * Every success must be a distinct version with its own history row, every failure a 409,
 * and no SQLITE_BUSY may reach a client. On SQLite (one file) and on PostgreSQL (one database),
 * where the two processes stand for gateways on two hosts.
 */

const CHAOS = process.env.CHAOS === '1';
// The full count runs in a few seconds, so CI runs it too.
const PER_PROCESS = Number(process.env.STORE_CONCURRENT_WRITES ?? 500);
const IN_FLIGHT = 4; // per client: requests on the wire at once
const ROUTES = ['orders', 'users', 'catalog'];

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Success {
  route: string;
  version: number;
  timeoutMs: number;
}

/** `count` conditional PATCHes through `gateway`, each setting a timeoutMs no other write uses. */
async function client(gateway: GatewayProcess, client: number, count: number, statuses: Map<string, number>): Promise<Success[]> {
  const successes: Success[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const route = ROUTES[(i * 7 + client) % ROUTES.length]!;
      const timeoutMs = 1000 + client * 100_000 + i;
      const current = await adminCall(gateway.admin, 'GET', `/routes/${route}`);
      expect(current.status).toBe(200);
      const res = await adminCall(gateway.admin, 'PATCH', `/routes/${route}`, { timeoutMs, reason: `c${client}-${i}` }, {
        'if-match': `"${current.body.version}"`,
        'x-actor': `client-${client}`,
      });
      const key = `${res.status} ${res.body?.error?.code ?? ''}`.trim();
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
      if (res.status === 200) successes.push({ route, version: res.body.version, timeoutMs });
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return successes;
}

describe.each(storeEngines('the concurrent-writes test'))('two gateway processes writing the same routes on $name', ({ name, database }) => {
  it(
    `${2 * PER_PROCESS} conditional PATCHes: every success a distinct version, every failure a 409, no lost update`,
    async () => {
      const [legacy, modern] = await Promise.all([startBackend('legacy'), startBackend('modern')]);
      const temp = await database();
      cleanups.push(temp.cleanup, () => legacy.close(), () => modern.close());
      const gateways = await Promise.all([0, 1].map(() => spawnGateway(temp.db, { legacy, modern })));
      for (const g of gateways) {
        cleanups.push(async () => {
          g.run.kill('SIGKILL');
          await g.run.exited;
        });
      }
      for (const id of ROUTES) expect((await adminCall(gateways[0]!.admin, 'POST', '/routes', { id, pathPrefix: `/${id}` })).status).toBe(201);

      const statuses = new Map<string, number>();
      const results = await Promise.all(gateways.map((g, i) => client(g, i, PER_PROCESS, statuses)));
      const successes = results.flat();

      // Every answer was a success or a version conflict: no 5xx, no DB_BUSY.
      expect(Object.fromEntries(statuses)).toEqual({
        '200': successes.length,
        '409 VERSION_CONFLICT': 2 * PER_PROCESS - successes.length,
      });
      for (const g of gateways) expect([...g.run.stdout, ...g.run.stderr].join('\n')).not.toMatch(/SQLITE_BUSY|database is locked|STORE_UNAVAILABLE/);

      // Every success is its own version.
      const versions = successes.map((s) => `${s.route}@${s.version}`);
      expect(new Set(versions).size).toBe(successes.length);

      for (const g of gateways) g.run.kill('SIGTERM');
      expect(await Promise.all(gateways.map((g) => g.run.exited))).toEqual([0, 0]);

      // History holds exactly the create plus one row per success, each with the value that success wrote.
      const { routes, history } = await checkStoreAt(temp.db);
      let lost = 0;
      for (const id of ROUTES) {
        const mine = successes.filter((s) => s.route === id);
        const rows = history.get(id)!;
        expect(rows).toHaveLength(1 + mine.length);
        expect(routes.find((r) => r.id === id)!.version).toBe(1 + mine.length);
        for (const s of mine) {
          const row = rows.find((r) => r.version === s.version);
          if (row === undefined || JSON.parse(row.after!).timeoutMs !== s.timeoutMs) lost++;
        }
      }
      expect(lost).toBe(0);
      console.log(
        `[figures] concurrent writes (${name}): 2 processes × ${PER_PROCESS} conditional PATCHes = ${2 * PER_PROCESS} writes, ` +
          `${successes.length} applied, ${2 * PER_PROCESS - successes.length} refused 409, 0 5xx, ${lost} lost updates`,
      );
    },
    CHAOS ? 600_000 : 60_000,
  );
});
