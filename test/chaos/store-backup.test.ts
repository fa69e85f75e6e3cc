import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RouteStore } from '../../src/routing/store.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { adminCall, checkStore, spawnGateway } from '../helpers/gateway-process.js';
import { startBackend, tempDir } from '../helpers/servers.js';

/** Issue 6 part 6 (d): `strangler backup <file>` copies a live database consistently. */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cli(args: string[]): Promise<CliRun & { code: number | null }> {
  const run = runCli(args);
  cleanups.push(() => run.kill('SIGKILL'));
  return Object.assign(run, { code: await run.exited });
}

describe('strangler backup', () => {
  it('copies a database that a gateway is writing to: each copy is whole and self-consistent', async () => {
    const [legacy, modern] = await Promise.all([startBackend('legacy'), startBackend('modern')]);
    const temp = tempDir();
    cleanups.push(temp.cleanup, () => legacy.close(), () => modern.close());
    const gateway = await spawnGateway(temp.db, { legacy, modern });
    cleanups.push(() => gateway.run.kill('SIGKILL'));
    for (const id of ['orders', 'users']) await adminCall(gateway.admin, 'POST', '/routes', { id, pathPrefix: `/${id}` });

    let writing = true;
    let writes = 0;
    const writer = (async () => {
      while (writing) {
        const id = writes % 2 === 0 ? 'orders' : 'users';
        const res = await adminCall(gateway.admin, 'PATCH', `/routes/${id}`, { timeoutMs: 1000 + writes++ });
        expect(res.status).toBe(200);
      }
    })();

    const copies: number[] = [];
    for (let i = 0; i < 3; i++) {
      const file = join(temp.dir, `backup-${i}.db`);
      const run = await cli(['backup', file, '--db', temp.db]);
      expect(run.code, run.stderr.join('\n')).toBe(0);
      expect(run.stdout[0]).toMatch(new RegExp(`^backed up .+ to .+backup-${i}\\.db: 2 routes, \\d+ history entries, integrity ok$`));
      const { routes, history } = checkStore(file);
      expect(routes.map((r) => r.id)).toEqual(['orders', 'users']);
      copies.push([...history.values()].reduce((n, rows) => n + rows.length, 0));
    }
    writing = false;
    await writer;
    expect(writes).toBeGreaterThan(10);
    // The copies were taken at different moments of a live database.
    expect(copies[2]).toBeGreaterThan(copies[0]!);

    // A copy is a database a gateway can start on.
    const restored = RouteStore.open(join(temp.dir, 'backup-2.db'), { clock: { now: () => Date.now() } });
    expect(restored.list().map((r) => r.id)).toEqual(['orders', 'users']);
    restored.close();
  });

  it('reads STRANGLER_DB when --db is absent', async () => {
    const temp = tempDir();
    cleanups.push(temp.cleanup);
    RouteStore.open(temp.db, { clock: { now: () => 0 } }).close();
    const run = runCli(['backup', join(temp.dir, 'copy.db')], { STRANGLER_DB: temp.db });
    cleanups.push(() => run.kill('SIGKILL'));
    expect(await run.exited).toBe(0);
    expect(existsSync(join(temp.dir, 'copy.db'))).toBe(true);
  });

  it.each<[string, (dir: string, db: string) => string[], RegExp]>([
    ['no target', (_dir, db) => ['backup', '--db', db], /backup takes one argument/],
    ['two targets', (dir, db) => ['backup', join(dir, 'a.db'), join(dir, 'b.db'), '--db', db], /backup takes one argument/],
    ['an existing target', (_dir, db) => ['backup', db, '--db', db], /already exists/],
    ['a missing database', (dir) => ['backup', join(dir, 'copy.db'), '--db', join(dir, 'missing.db')], /cannot back up route database .*missing\.db/],
    ['a target in a missing directory', (dir, db) => ['backup', join(dir, 'no', 'copy.db'), '--db', db], /cannot write/],
    ['an unknown flag', (dir, db) => ['backup', join(dir, 'copy.db'), '--db', db, '--force'], /Unknown option '--force'/],
  ])('%s: exit 2 with one line', async (_what, args, message) => {
    const temp = tempDir();
    cleanups.push(temp.cleanup);
    RouteStore.open(temp.db, { clock: { now: () => 0 } }).close();
    const run = await cli(args(temp.dir, temp.db));
    expect(run.code).toBe(2);
    expect(run.stderr).toHaveLength(1);
    expect(run.stderr[0]).toMatch(message);
    expect(existsSync(join(temp.dir, 'copy.db'))).toBe(false);
  });
});
