import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { DEFAULTS } from '../config.js';
import { isPostgresUrl } from '../store/open.js';
import { redactUrl } from '../store/postgres-url.js';
import { UsageError, parseFlags, type FlagSpec } from './args.js';

const BACKUP_FLAGS: readonly FlagSpec[] = [{ key: 'db', env: 'STRANGLER_DB' }];

const BackupConfig = z.object({ db: z.string().min(1).default(DEFAULTS.db) }).strict();

/**
 * `strangler backup <file>`: a consistent copy of the route database, taken with SQLite's online
 * backup API while gateways keep reading and writing it. The copy is checked before it is reported.
 */
export async function backup(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { config, positionals } = parseFlags(argv, BACKUP_FLAGS, BackupConfig, env);
  if (positionals.length !== 1) throw new UsageError('backup takes one argument: the file to write, e.g. "strangler backup routes-backup.db"');
  if (isPostgresUrl(config.db)) {
    throw new UsageError(
      `backup copies a SQLite route database; ${redactUrl(config.db)} is PostgreSQL: back it up with its own tools, e.g. "pg_dump --format=custom --file=routes.dump 'postgres://…'" (restore with pg_restore)`,
    );
  }
  const target = positionals[0]!;
  // Never overwrite: a backup that replaces the last good one defeats its purpose.
  if (existsSync(target)) throw new UsageError(`${target} already exists; choose a new file name`);

  const source = openSource(config.db);
  try {
    await source.backup(target);
  } catch (err) {
    throw new UsageError(`cannot write ${target}: ${(err as Error).message}`);
  } finally {
    source.close();
  }

  const copy = new Database(target, { readonly: true, fileMustExist: true });
  try {
    const integrity = copy.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new Error(`the copy in ${target} failed its integrity check: ${String(integrity)}`);
    const { n } = copy.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM routes').get()!;
    const { h } = copy.prepare<[], { h: number }>('SELECT COUNT(*) AS h FROM route_history').get()!;
    process.stdout.write(`backed up ${config.db} to ${target}: ${n} routes, ${h} history entries, integrity ok\n`);
  } finally {
    copy.close();
  }
  return 0;
}

/** The live database, which must exist and hold a route table: a backup never creates one. */
function openSource(path: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    const hasRoutes = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'routes'").get();
    if (hasRoutes === undefined) throw new Error('it holds no route table');
    return db;
  } catch (err) {
    db?.close();
    throw new UsageError(`cannot back up route database ${path}: ${(err as Error).message}`);
  }
}
