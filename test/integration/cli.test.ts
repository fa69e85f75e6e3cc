import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startBackend, tempDir, type StubBackend } from '../helpers/servers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(run: CliRun): CliRun {
  cleanups.push(async () => {
    run.kill('SIGKILL');
    await run.exited;
  });
  return run;
}

function temp() {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t;
}

async function backends(): Promise<{ legacy: StubBackend; modern: StubBackend }> {
  const [legacy, modern] = await Promise.all([startBackend('legacy'), startBackend('modern')]);
  cleanups.push(() => legacy.close(), () => modern.close());
  return { legacy, modern };
}

const BACKENDS = ['--legacy', 'http://127.0.0.1:1', '--modern', 'http://127.0.0.1:2'];

/** Starts `strangler serve` on ephemeral ports; returns its URLs from the start-up log line. */
async function serve(db: string, b: { legacy: StubBackend; modern: StubBackend }, env: NodeJS.ProcessEnv = {}) {
  const run = track(
    runCli(
      ['serve', '--legacy', b.legacy.url, '--modern', b.modern.url, '--db', db, '--port', '0', '--host', '127.0.0.1', '--admin-port', '0'],
      env,
    ),
  );
  const line = await run.waitForLog('gateway listening');
  return { run, proxy: line.proxy as string, admin: line.admin as string };
}

describe('bad flags and values exit 2 with one line, no stack trace', () => {
  it.each([
    [['serve', '--modern', 'http://127.0.0.1:2'], /no legacy backend URL: give --legacy URL \(or STRANGLER_LEGACY_URL\)/],
    [['serve', '--legacy', 'not a url', '--modern', 'http://127.0.0.1:2'], /--legacy .*http:\/\/ or https:\/\/ URL/],
    [['serve', ...BACKENDS, '--port', 'abc'], /--port/],
    [['serve', ...BACKENDS, '--port', '70000'], /--port/],
    [['serve', ...BACKENDS, '--log-level', 'loud'], /--log-level/],
    [['serve', ...BACKENDS, '--bogus'], /Unknown option '--bogus'/],
    [['serve', ...BACKENDS, '--admin-token', 'x'], /Unknown option '--admin-token'/],
    [['serve', ...BACKENDS, '--admin-host', '0.0.0.0'], /STRANGLER_ADMIN_TOKEN/],
    [['serve', ...BACKENDS, 'extra'], /takes no arguments/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ])('%j', async (args, message) => {
    // A database of its own: a ./routes.db left by the demo names a legacy backend, and serve would start.
    const run = track(runCli(args[0] === 'serve' ? [...args, '--db', temp().db] : args));
    expect(await run.exited).toBe(2);
    expect(run.stderr).toHaveLength(1);
    expect(run.stderr[0]).toMatch(/^strangler: /);
    expect(run.stderr[0]).toMatch(message);
  });

  it('reads required values from the environment too', async () => {
    const run = track(runCli(['serve', '--port', 'abc'], { STRANGLER_LEGACY_URL: 'http://127.0.0.1:1', STRANGLER_MODERN_URL: 'http://127.0.0.1:2' }));
    expect(await run.exited).toBe(2);
    expect(run.stderr[0]).toMatch(/--port/);
  });

  it('refuses a short admin token without echoing it', async () => {
    const run = track(runCli(['serve', ...BACKENDS], { STRANGLER_ADMIN_TOKEN: 'short-secret' }));
    expect(await run.exited).toBe(2);
    expect(run.stderr[0]).toMatch(/STRANGLER_ADMIN_TOKEN: must be at least 16 characters/);
    expect(run.stderr[0]).not.toMatch(/short-secret/);
  });

  it.each([
    ['a missing directory', (dir: string) => join(dir, 'no', 'such', 'dir', 'routes.db')],
    [
      'a corrupt file',
      (dir: string) => {
        const path = join(dir, 'corrupt.db');
        writeFileSync(path, randomBytes(8192));
        return path;
      },
    ],
  ])('--db in %s is a clear start-up error', async (_what, makePath) => {
    const run = track(runCli(['serve', ...BACKENDS, '--db', makePath(temp().dir), '--port', '0', '--admin-port', '0']));
    expect(await run.exited).toBe(2);
    expect(run.stderr.join('\n')).toMatch(/^strangler: cannot open route database .+: /);
  });

  it('prints help and the version', async () => {
    const help = track(runCli(['--help']));
    expect(await help.exited).toBe(0);
    expect(help.stdout.join('\n')).toMatch(/strangler serve/);
    const version = track(runCli(['--version']));
    expect(await version.exited).toBe(0);
    expect(version.stdout[0]).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('strangler serve', () => {
  it('creates the database, serves, and on SIGTERM finishes in-flight requests then exits 0', async () => {
    const b = await backends();
    const slow = await startBackend('modern', (_req, res) => setTimeout(() => res.end('finished'), 400));
    cleanups.push(() => slow.close());
    const { dir, db } = temp();
    const { run, proxy, admin } = await serve(db, { legacy: b.legacy, modern: slow });
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    const created = await fetch(`${admin}/routes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pathPrefix: '/slow', mode: 'modern' }),
    });
    expect(created.status).toBe(201);
    const inFlight = fetch(`${proxy}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 100));
    run.kill('SIGTERM');
    expect(await inFlight).toBe('finished');
    expect(await run.exited).toBe(0);
    expect(run.stdout.some((l) => l.includes('gateway stopped'))).toBe(true);
    expect(dir).toBeTruthy();
  });

  it('keeps the routes across a restart', async () => {
    const b = await backends();
    const { db } = temp();
    const first = await serve(db, b);
    await fetch(`${first.admin}/routes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'orders', pathPrefix: '/orders', mode: 'modern' }),
    });
    first.run.kill('SIGINT');
    expect(await first.run.exited).toBe(0);
    const second = await serve(db, b);
    const res = await fetch(`${second.proxy}/orders/1`);
    expect(res.headers.get('x-strangler-backend')).toBe('modern');
    expect(res.headers.get('x-strangler-route')).toBe('orders');
  });

  it('two processes sharing one database agree within a second of a change', async () => {
    const b = await backends();
    const { db } = temp();
    const a = await serve(db, b);
    const other = await serve(db, b);
    const changed = await fetch(`${a.admin}/routes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pathPrefix: '/orders', mode: 'modern' }),
    });
    expect(changed.status).toBe(201);
    const start = Date.now();
    let side: string | null = null;
    while (Date.now() - start < 1_000) {
      side = (await fetch(`${other.proxy}/orders`)).headers.get('x-strangler-backend');
      if (side === 'modern') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(side).toBe('modern');
  });
});
