import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayError } from '../../src/errors.js';
import { RouteSpec, desiredRoute } from '../../src/routing/route-file.js';
import { openStore } from '../../src/store/open.js';
import { LOCK_APP, PG_MIGRATIONS, WRITE_LOCK } from '../../src/store/postgres-schema.js';
import { MIGRATIONS } from '../../src/store/sqlite-schema.js';
import type { Store } from '../../src/store/store.js';
import { TEST_PG_PASSWORD, requirePostgres, startPostgres, type TestPostgres } from '../helpers/postgres.js';

/** What only the PostgreSQL store has: migrating once across gateways, its write lock and timeouts. */

const HAS_PG = requirePostgres('the PostgreSQL store tests');
let cluster: TestPostgres;
const logger = pino({ level: 'silent' });
const clock = { now: () => Date.now() };
const defaults = { legacy: { url: 'http://127.0.0.1:1' }, modern: { url: 'http://127.0.0.1:2' } };

beforeAll(async () => {
  if (HAS_PG) cluster = await startPostgres();
}, 60_000);
afterAll(() => cluster?.cleanup());

async function rejection(promise: Promise<unknown>): Promise<GatewayError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe.skipIf(!HAS_PG)('the PostgreSQL store', () => {
  it('has a migration for every SQLite one, so a schema version means the same on both', () => {
    expect(PG_MIGRATIONS).toHaveLength(MIGRATIONS.length);
  });

  it('migration 6 gives each existing route its mode as its stage (SQLite and PostgreSQL)', async () => {
    const insert = `INSERT INTO routes (id, path_prefix, mode, canary_percent, sticky_key, timeout_ms, version, created_at, updated_at)
                    VALUES ('m', '/m', 'modern', 0, 'cookie', 1000, 1, 'x', 'x'), ('s', '/s', 'shadow', 0, 'cookie', 1000, 1, 'x', 'x')`;
    const url = await cluster.createDatabase();
    const name = new URL(url).pathname.slice(1);
    await cluster.sql(name, 'CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (5)');
    for (const migration of PG_MIGRATIONS.slice(0, 5)) await cluster.sql(name, migration);
    await cluster.sql(name, insert);
    const dir = mkdtempSync(join(tmpdir(), 'sgw-migrate-'));
    const file = join(dir, 'routes.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (5); ${MIGRATIONS.slice(0, 5).join(';\n')}; ${insert}`);
    old.close();
    try {
      for (const where of [url, file]) {
        const store = await openStore(where, { clock, logger });
        expect((await store.list()).map((r) => [r.id, r.mode, r.stage, r.retireAfterMs])).toEqual([['m', 'modern', 'modern', 604_800_000], ['s', 'shadow', 'shadow', 604_800_000]]);
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ten gateways opening an empty database at once migrate it once', async () => {
    const url = await cluster.createDatabase();
    const stores = await Promise.all(Array.from({ length: 10 }, () => openStore(url, { clock, logger, poolSize: 1 })));
    await Promise.all(stores.map((s) => s.close()));
    const { rows } = await cluster.sql(new URL(url).pathname.slice(1), 'SELECT version FROM schema_version');
    expect(rows).toEqual([{ version: PG_MIGRATIONS.length }]);
  });

  it('refuses a database a newer gateway migrated, in one line with the password redacted', async () => {
    const url = await cluster.createDatabase();
    await (await openStore(url, { clock, logger })).close();
    await cluster.sql(new URL(url).pathname.slice(1), 'UPDATE schema_version SET version = 99');
    const err = await rejection(openStore(url, { clock, logger }));
    expect(err.code).toBe('DB_OPEN_FAILED');
    expect(err.message).toMatch(/schema version 99, newer than this gateway's/);
    expect(err.message).not.toContain(TEST_PG_PASSWORD);
    expect(err.message).toContain(':***@');
  });

  it('a write waiting on the write lock past --db-statement-timeout-ms is 503 DB_BUSY and writes nothing; reads and dry runs do not wait', async () => {
    const url = await cluster.createDatabase();
    const store: Store = await openStore(url, { clock, logger, statementTimeoutMs: 300 });
    await store.backends.ensureDefaults(defaults, { actor: 't' });
    // Another gateway in the middle of a long write.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_APP, WRITE_LOCK]);
    try {
      const err = await rejection(store.create({ id: 'blocked', pathPrefix: '/blocked' }, { actor: 't' }));
      expect(err.code).toBe('DB_BUSY');
      expect(err.status).toBe(503);
      // Reads, and dry runs, do not take the lock.
      expect(await store.list()).toEqual([]);
      const dry = await store.apply([desiredRoute(RouteSpec.parse({ id: 'planned', pathPrefix: '/planned' }))], { prune: false, dryRun: true }, { actor: 't' });
      expect(dry.changes).toEqual([expect.objectContaining({ action: 'create', id: 'planned' })]);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect(await store.get('blocked')).toBeUndefined();
    expect((await store.create({ id: 'after', pathPrefix: '/after' }, { actor: 't' })).version).toBe(1);
    expect(store.health).toEqual({ state: 'ok' });
    await store.close();
  });

  it('a database that cannot be reached, or a wrong password, fails the open with the reason and no password', async () => {
    const err = await rejection(openStore(`postgres://strangler:${TEST_PG_PASSWORD}@127.0.0.1:1/none`, { clock, logger, statementTimeoutMs: 1000 }));
    expect(err.code).toBe('DB_OPEN_FAILED');
    expect(err.message).toMatch(/^cannot open route database postgres:\/\/strangler:\*\*\*@127\.0\.0\.1:1\/none: .*ECONNREFUSED/);
    const wrongPassword = cluster.url('postgres').replace(TEST_PG_PASSWORD, 'wrong');
    const refused = await rejection(openStore(wrongPassword, { clock, logger }));
    expect(refused.message).toMatch(/password authentication failed/);
    expect(refused.message).not.toContain(':wrong@');
  });
});
