/**
 * `serve` handles SIGTERM from the moment it starts: a signal that comes while it is still
 * starting (or right as it says "gateway listening") stops it once it is up, with the drain and
 * exit 0, instead of the default action (killed, nothing drained).
 */
import { readdirSync, readlinkSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { serveArgs, spawnGateway } from '../helpers/gateway-process.js';
import { startBackend, tempDir, type StubBackend } from '../helpers/servers.js';

let legacy: StubBackend;
let modern: StubBackend;
const temp = tempDir();
beforeAll(async () => {
  [legacy, modern] = await Promise.all([startBackend('legacy'), startBackend('modern')]);
});
afterAll(async () => {
  await Promise.all([legacy.close(), modern.close()]);
  temp.cleanup();
});

/** Whether process `pid` has `path` open (it is past its signal handlers and opening the database). */
function hasOpen(pid: number, path: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

it.skipIf(process.platform !== 'linux')('a SIGTERM during start-up stops the gateway once it is up: drained, exit 0', async () => {
  // A first start creates the database; the test then holds its write lock, so the next start waits.
  const first = await spawnGateway(temp.db, { legacy, modern });
  first.run.kill('SIGTERM');
  expect(await first.run.exited).toBe(0);
  const lock = new Database(temp.db);
  lock.exec('BEGIN EXCLUSIVE');

  const run = runCli(serveArgs(temp.db, { legacy, modern }));
  try {
    while (!hasOpen(run.child.pid!, temp.db)) await new Promise((r) => setTimeout(r, 10));
    run.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    lock.exec('COMMIT');
    lock.close();
  }
  expect(await run.exited).toBe(0);
  const messages = run.stdout.map((line) => (JSON.parse(line) as { msg: string }).msg);
  expect(messages).toEqual(expect.arrayContaining(['gateway listening', 'shutting down: draining in-flight requests', 'gateway stopped']));
  expect(messages.indexOf('gateway listening')).toBeLessThan(messages.indexOf('shutting down: draining in-flight requests'));
});
