import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RouteStore } from '../../src/routing/store.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { tempDir } from '../helpers/servers.js';

/**
 * Issue 6 part 6 (c): a database the gateway cannot use stops it at start-up with one clear
 * line and exit 2; it never starts on a silently created empty table, and never touches the file.
 */

const BACKENDS = ['--legacy', 'http://127.0.0.1:1', '--modern', 'http://127.0.0.1:2', '--port', '0', '--admin-port', '0'];
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function temp(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return t.dir;
}

async function startWith(db: string): Promise<CliRun> {
  const run = runCli(['serve', ...BACKENDS, '--db', db]);
  cleanups.push(async () => {
    run.kill('SIGKILL');
    await run.exited;
  });
  expect(await run.exited).toBe(2);
  return run;
}

function expectOneLine(run: CliRun, message: RegExp): void {
  expect(run.stderr, run.stderr.join('\n')).toHaveLength(1);
  expect(run.stderr[0]).toMatch(/^strangler: cannot open route database /);
  expect(run.stderr[0]).toMatch(message);
  expect(run.stdout.join('\n')).not.toMatch(/gateway listening|\n\s+at /);
}

/** A real route database holding one route, closed cleanly. */
function validDb(dir: string): string {
  const file = join(dir, 'routes.db');
  const store = RouteStore.open(file, { clock: { now: () => Date.now() } });
  store.create({ pathPrefix: '/orders', mode: 'modern', canaryPercent: 0, stickyKey: 'cookie', timeoutMs: 30_000, maxBodyBytes: null }, { actor: 'test' });
  store.close();
  return file;
}

/**
 * Makes `path` unwritable, also for root (which ignores permission bits): the immutable
 * attribute where chattr works, mode 0444/0555 otherwise. Returns false if neither holds.
 */
function makeReadOnly(path: string, isDir: boolean): boolean {
  try {
    execFileSync('chattr', ['+i', path], { stdio: 'ignore' });
    cleanups.push(() => execFileSync('chattr', ['-i', path], { stdio: 'ignore' }));
    return true;
  } catch {
    if (process.getuid?.() === 0) return false;
    chmodSync(path, isDir ? 0o555 : 0o444);
    cleanups.push(() => chmodSync(path, isDir ? 0o755 : 0o644));
    return true;
  }
}

describe('--db that the gateway cannot use', () => {
  it('in a missing directory: exit 2, and no directory or file is created', async () => {
    const dir = temp();
    const run = await startWith(join(dir, 'no', 'such', 'routes.db'));
    expectOneLine(run, /directory does not exist/);
    expect(existsSync(join(dir, 'no'))).toBe(false);
  });

  it.each([
    ['8 KiB of random bytes', () => randomBytes(8192)],
    ['100 random bytes', () => randomBytes(100)],
    ['1 MiB of random bytes', () => randomBytes(1024 * 1024)],
    ['a text file', () => Buffer.from('routes:\n  - /orders\n'.repeat(500))],
  ])('a corrupt file (%s): exit 2 naming it not a database, file untouched', async (_what, bytes) => {
    const file = join(temp(), 'routes.db');
    const content = bytes();
    writeFileSync(file, content);
    const run = await startWith(file);
    expectOneLine(run, /not a database|corrupt|malformed/);
    expect(readFileSync(file).equals(content)).toBe(true);
  });

  it('a SQLite file with its pages overwritten by random bytes: exit 2', async () => {
    const file = validDb(temp());
    const content = readFileSync(file);
    randomBytes(content.length - 100).copy(content, 100); // keep the 100-byte header, trash the rest
    writeFileSync(file, content);
    const run = await startWith(file);
    expectOneLine(run, /malformed|corrupt|not a database/);
  });

  it('a database with a damaged page past its schema: exit 2 (the routes it holds are never silently dropped)', async () => {
    const file = join(temp(), 'routes.db');
    const store = RouteStore.open(file, { clock: { now: () => Date.now() } });
    for (let i = 0; i < 300; i++) {
      store.create({ pathPrefix: `/r${i}`, mode: 'legacy', canaryPercent: 0, stickyKey: 'cookie', timeoutMs: 30_000, maxBodyBytes: null }, { actor: 'test' });
    }
    store.close();
    const content = readFileSync(file);
    const pageSize = content.readUInt16BE(16);
    const page = Math.floor(content.length / pageSize / 2); // a page in the middle: data or index, not the schema
    randomBytes(pageSize).copy(content, page * pageSize);
    writeFileSync(file, content);
    const run = await startWith(file);
    expectOneLine(run, /integrity check|malformed|corrupt/);
  });

  it('a read-only database file: exit 2, never serving a table it cannot change', async (ctx) => {
    const file = validDb(temp());
    if (!makeReadOnly(file, false)) ctx.skip();
    const run = await startWith(file);
    expectOneLine(run, /readonly|read-only/);
  });

  it('a new database in a read-only directory: exit 2', async (ctx) => {
    const dir = temp();
    if (!makeReadOnly(dir, true)) ctx.skip();
    const run = await startWith(join(dir, 'routes.db'));
    expectOneLine(run, /unable to open|readonly|read-only|permission/i);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a database written by a newer gateway: exit 2 saying so', async () => {
    const file = validDb(temp());
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(file);
    db.prepare('UPDATE schema_version SET version = 999').run();
    db.close();
    const run = await startWith(file);
    expectOneLine(run, /schema version 999, newer than/);
  });
});

describe('processes opening one new database file at the same moment', () => {
  it('all open it: a busy answer while another switches the file to WAL is waited out, not fatal (counted)', async () => {
    const script = `import { RouteStore } from ${JSON.stringify(new URL('../../src/routing/store.ts', import.meta.url).href)};
      import { systemClock } from ${JSON.stringify(new URL('../../src/clock.ts', import.meta.url).href)};
      RouteStore.open(process.argv[1], { clock: systemClock }).close();`;
    const [ROUNDS, PROCESSES] = [8, 4];
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const db = join(temp(), 'routes.db');
      await Promise.all(
        Array.from({ length: PROCESSES }, () =>
          new Promise<void>((resolve) => {
            const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, db], { stdio: ['ignore', 'ignore', 'pipe'] });
            let err = '';
            child.stderr.on('data', (d: Buffer) => (err += d.toString()));
            child.on('exit', (code) => {
              if (code !== 0) failures.push(err.trim().split('\n')[0] ?? `exit ${code}`);
              resolve();
            });
          }),
        ),
      );
    }
    console.log(`[figures] simultaneous opens of a new database: ${ROUNDS} × ${PROCESSES} processes, ${failures.length} failed`);
    expect(failures).toEqual([]);
  }, 120_000);
});
