import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { freePort } from './httpbin.js';
import { tempDir } from './servers.js';

/**
 * A throwaway PostgreSQL cluster for tests: Debian's `postgresql` package (installed by
 * `.ci/run`), initdb into a temp directory, started with pg_ctl on a free loopback port, with a
 * password (so redaction is tested on a real URL). Tests can stop and start it (the outage
 * tests) and create a database each. As root, the server runs as the `postgres` user.
 */
export interface TestPostgres {
  port: number;
  /** The URL of database `db` (with the password in it). */
  url(db: string): string;
  /** A fresh, empty database; returns its URL. */
  createDatabase(): Promise<string>;
  /** Runs one statement as the superuser on database `db`. */
  sql(db: string, statement: string, params?: unknown[]): Promise<pg.QueryResult>;
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  cleanup(): void;
}

export const TEST_PG_USER = 'strangler';
export const TEST_PG_PASSWORD = 'pg-secret-7f3a';

/** Where the PostgreSQL server binaries are (PG_BIN, else Debian's newest), or undefined. */
export function postgresBin(): string | undefined {
  if (process.env.PG_BIN !== undefined) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Why PostgreSQL cannot run here, or undefined when it can. */
export function postgresMissing(): string | undefined {
  return postgresBin() === undefined ? 'PostgreSQL is not installed (apt-get install postgresql)' : undefined;
}

/** With CI set, a missing PostgreSQL fails the run; elsewhere the suite is skipped with the reason. */
export function requirePostgres(suite: string): boolean {
  const missing = postgresMissing();
  if (missing !== undefined && process.env.CI) throw new Error(`${suite} needs PostgreSQL: ${missing}`);
  return missing === undefined;
}

let counter = 0;

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  if (bin === undefined) throw new Error('PostgreSQL is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'strangler-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? lookupUser('postgres') : undefined;
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  const run = (cmd: string, args: string[]) => {
    const argv = asRoot ? ['runuser', '-u', 'postgres', '--', join(bin, cmd), ...args] : [join(bin, cmd), ...args];
    const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: dir });
    if (result.status !== 0) throw new Error(`${cmd} failed: ${result.stderr || result.stdout}`);
  };
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, TEST_PG_PASSWORD);
  if (owner !== undefined) chownSync(pwfile, owner.uid, owner.gid);
  run('initdb', ['-D', data, '-U', TEST_PG_USER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = () => run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start']);
  start();
  const url = (db: string) => `postgres://${TEST_PG_USER}:${TEST_PG_PASSWORD}@127.0.0.1:${port}/${db}`;
  const sql = async (db: string, statement: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString: url(db) });
    await client.connect();
    try {
      return await client.query(statement, params);
    } finally {
      await client.end();
    }
  };
  let stopped = false;
  return {
    port,
    url,
    sql,
    createDatabase: () => createDatabaseAt(url('postgres')),
    stop(mode = 'fast') {
      run('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']);
      stopped = true;
    },
    start() {
      start();
      stopped = false;
    },
    cleanup() {
      if (!stopped) spawnSync(...stopArgs(asRoot, join(bin, 'pg_ctl'), data));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function stopArgs(asRoot: boolean, pgCtl: string, data: string): [string, string[]] {
  const args = [pgCtl, '-D', data, '-m', 'immediate', '-w', 'stop'];
  return asRoot ? ['runuser', ['-u', 'postgres', '--', ...args]] : [args[0]!, args.slice(1)];
}

function lookupUser(name: string): { uid: number; gid: number } | undefined {
  const found = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const group = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (found.status !== 0 || group.status !== 0) return undefined;
  return { uid: Number(found.stdout.trim()), gid: Number(group.stdout.trim()) };
}

export interface TestDatabase {
  db: string;
  cleanup(): void;
}

/**
 * The engines a test file runs on: SQLite (a temp file) always, and PostgreSQL (a database in a
 * cluster the file shares, started on first use, or STRANGLER_TEST_PG_URL's server) when it is
 * installed. Call at the top level of a test file: it registers the cluster's cleanup.
 */
export function storeEngines(suite: string): { name: 'sqlite' | 'postgres'; database(): Promise<TestDatabase> }[] {
  const hasPg = requirePostgres(suite);
  let cluster: Promise<TestPostgres> | undefined;
  const external = process.env.STRANGLER_TEST_PG_URL;
  const made: string[] = [];
  afterAll(async () => {
    if (external !== undefined) await dropDatabasesAt(external, made);
    (await cluster)?.cleanup();
  });
  const postgres = async (): Promise<TestDatabase> => {
    if (external !== undefined) {
      const db = await createDatabaseAt(external);
      made.push(db);
      return { db, cleanup: () => undefined };
    }
    cluster ??= startPostgres();
    return { db: await (await cluster).createDatabase(), cleanup: () => undefined };
  };
  return [
    { name: 'sqlite' as const, database: async () => tempDir() },
    ...(hasPg ? [{ name: 'postgres' as const, database: postgres }] : []),
  ];
}

/**
 * Drops the databases `urls` name on the server `url` names, once the file's tests are done
 * (WITH (FORCE): a connection a killed gateway left open does not keep one).
 */
async function dropDatabasesAt(url: string, urls: readonly string[]): Promise<void> {
  if (urls.length === 0) return;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const db of urls) await client.query(`DROP DATABASE IF EXISTS ${new URL(db).pathname.slice(1)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/**
 * A new database on the server `url` names; returns its URL. The name is random too: a run that
 * could not drop its databases (killed) must not make a later run with the same pid meet one.
 */
export async function createDatabaseAt(url: string): Promise<string> {
  const name = `t${process.pid}_${++counter}_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  return target.toString();
}
