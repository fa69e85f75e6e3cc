import type Database from 'better-sqlite3';
import { GatewayError } from '../errors.js';

/**
 * Schema migrations, applied in order; the index + 1 is the schema version they produce.
 * Append only: a released migration is never edited.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE routes (
     id             TEXT PRIMARY KEY,
     path_prefix    TEXT NOT NULL UNIQUE,
     mode           TEXT NOT NULL CHECK (mode IN ('legacy', 'canary', 'modern')),
     canary_percent INTEGER NOT NULL CHECK (canary_percent BETWEEN 0 AND 100),
     sticky_key     TEXT NOT NULL,
     timeout_ms     INTEGER NOT NULL CHECK (timeout_ms > 0),
     version        INTEGER NOT NULL CHECK (version > 0),
     created_at     TEXT NOT NULL,
     updated_at     TEXT NOT NULL
   );
   CREATE TABLE route_history (
     seq      INTEGER PRIMARY KEY AUTOINCREMENT,
     route_id TEXT NOT NULL,
     version  INTEGER NOT NULL,
     action   TEXT NOT NULL,
     before   TEXT,
     after    TEXT,
     actor    TEXT NOT NULL,
     reason   TEXT,
     at       TEXT NOT NULL,
     UNIQUE (route_id, version)
   );`,
  // Resilience settings (retries, fallback, breaker, deadline) as one validated JSON document.
  `ALTER TABLE routes ADD COLUMN resilience TEXT NOT NULL DEFAULT '{}';`,
  // Per-route request body limit; NULL means the gateway's --max-body-bytes.
  `ALTER TABLE routes ADD COLUMN max_body_bytes INTEGER CHECK (max_body_bytes >= 0);`,
  // Named backends: each route sends its two sides to backends of its own (the defaults until changed).
  `CREATE TABLE backends (
     name       TEXT PRIMARY KEY,
     settings   TEXT NOT NULL,
     version    INTEGER NOT NULL CHECK (version > 0),
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE backend_history (
     seq     INTEGER PRIMARY KEY AUTOINCREMENT,
     name    TEXT NOT NULL,
     version INTEGER NOT NULL,
     action  TEXT NOT NULL,
     before  TEXT,
     after   TEXT,
     actor   TEXT NOT NULL,
     reason  TEXT,
     at      TEXT NOT NULL,
     UNIQUE (name, version)
   );
   ALTER TABLE routes ADD COLUMN legacy_backend TEXT NOT NULL DEFAULT 'legacy';
   ALTER TABLE routes ADD COLUMN modern_backend TEXT NOT NULL DEFAULT 'modern';`,
  // Shadow mode: a fourth mode (SQLite cannot change a CHECK, so the table is rebuilt), the
  // route's shadow settings, and what shadow comparisons found, per route (shadow/shadow-store.ts).
  `CREATE TABLE routes_v5 (
     id             TEXT PRIMARY KEY,
     path_prefix    TEXT NOT NULL UNIQUE,
     mode           TEXT NOT NULL CHECK (mode IN ('legacy', 'canary', 'modern', 'shadow')),
     canary_percent INTEGER NOT NULL CHECK (canary_percent BETWEEN 0 AND 100),
     sticky_key     TEXT NOT NULL,
     timeout_ms     INTEGER NOT NULL CHECK (timeout_ms > 0),
     version        INTEGER NOT NULL CHECK (version > 0),
     created_at     TEXT NOT NULL,
     updated_at     TEXT NOT NULL,
     resilience     TEXT NOT NULL DEFAULT '{}',
     max_body_bytes INTEGER CHECK (max_body_bytes >= 0),
     legacy_backend TEXT NOT NULL DEFAULT 'legacy',
     modern_backend TEXT NOT NULL DEFAULT 'modern',
     shadow         TEXT NOT NULL DEFAULT '{}'
   );
   INSERT INTO routes_v5 (id, path_prefix, mode, canary_percent, sticky_key, timeout_ms, version, created_at, updated_at,
                          resilience, max_body_bytes, legacy_backend, modern_backend)
     SELECT id, path_prefix, mode, canary_percent, sticky_key, timeout_ms, version, created_at, updated_at,
            resilience, max_body_bytes, legacy_backend, modern_backend FROM routes;
   DROP TABLE routes;
   ALTER TABLE routes_v5 RENAME TO routes;
   CREATE TABLE shadow_results (
     route_id   TEXT PRIMARY KEY,
     since      TEXT,
     compared   INTEGER NOT NULL DEFAULT 0,
     matched    INTEGER NOT NULL DEFAULT 0,
     mismatched INTEGER NOT NULL DEFAULT 0,
     errors     INTEGER NOT NULL DEFAULT 0,
     skipped    TEXT NOT NULL DEFAULT '{}',
     latency    TEXT NOT NULL DEFAULT '{}',
     paths      TEXT NOT NULL DEFAULT '{}',
     noise      TEXT NOT NULL DEFAULT '[]'
   );
   CREATE TABLE shadow_samples (
     seq      INTEGER PRIMARY KEY AUTOINCREMENT,
     route_id TEXT NOT NULL,
     sample   TEXT NOT NULL
   );
   CREATE INDEX shadow_samples_by_route ON shadow_samples (route_id, seq);`,
  // The route lifecycle (rollout/stage.ts): a stage, existing routes at their mode's; how long
  // modern must serve before retiring (7 days); the saved rollout plan.
  `ALTER TABLE routes ADD COLUMN stage TEXT NOT NULL DEFAULT 'legacy' CHECK (stage IN ('legacy', 'shadow', 'canary', 'modern', 'retired'));
   UPDATE routes SET stage = mode;
   ALTER TABLE routes ADD COLUMN retire_after_ms INTEGER NOT NULL DEFAULT 604800000 CHECK (retire_after_ms > 0);
   ALTER TABLE routes ADD COLUMN rollout TEXT;`,
  // Rollouts shared by the gateways on one database (rollout/rollout-store.ts): each route's
  // latest rollout with its lease, each gateway's counts for the current step, and each route's
  // latest fallback to legacy on any gateway (the retire rule).
  `CREATE TABLE rollouts (
     route_id    TEXT PRIMARY KEY,
     status      TEXT NOT NULL,
     record      TEXT NOT NULL,
     revision    INTEGER NOT NULL,
     leader      TEXT,
     lease_until INTEGER NOT NULL,
     updated_at  TEXT NOT NULL
   );
   CREATE TABLE rollout_windows (
     route_id TEXT NOT NULL,
     gateway  TEXT NOT NULL,
     step     INTEGER NOT NULL,
     counts   TEXT NOT NULL,
     at       INTEGER NOT NULL,
     PRIMARY KEY (route_id, gateway)
   );
   CREATE TABLE route_fallbacks (
     route_id TEXT PRIMARY KEY,
     last_at  INTEGER NOT NULL
   );`,
  // The outbox (outbox/): an event per lifecycle move, written in the change's transaction; the
  // webhooks events go to; each event's delivery to each of them, retried until it succeeds.
  `CREATE TABLE outbox_events (
     seq      INTEGER PRIMARY KEY AUTOINCREMENT,
     id       TEXT NOT NULL UNIQUE,
     route_id TEXT NOT NULL,
     at       TEXT NOT NULL,
     event    TEXT NOT NULL
   );
   CREATE TABLE webhooks (
     id         TEXT PRIMARY KEY,
     url        TEXT NOT NULL UNIQUE,
     source     TEXT NOT NULL CHECK (source IN ('flag', 'api')),
     created_at TEXT NOT NULL
   );
   CREATE TABLE outbox_deliveries (
     event_id        TEXT NOT NULL REFERENCES outbox_events (id),
     url             TEXT NOT NULL,
     attempts        INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     delivered_at    TEXT,
     last_error      TEXT,
     claimed_by      TEXT,
     PRIMARY KEY (event_id, url)
   );
   CREATE INDEX outbox_deliveries_due ON outbox_deliveries (next_attempt_at) WHERE delivered_at IS NULL;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  db.transaction(() => {
    const row = db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new GatewayError(
        'DB_OPEN_FAILED',
        `it has schema version ${current}, newer than this gateway's ${MIGRATIONS.length}; upgrade the gateway`,
      );
    }
    for (let v = current; v < MIGRATIONS.length; v++) db.exec(MIGRATIONS[v]!);
    // Always written, even when nothing migrates: SQLite silently opens a file it may not write
    // read-only, and a gateway whose every change would fail must not start.
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
    else db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
  }).immediate();
}

/** A damaged page may not show until it is read: check them all once (milliseconds for a route table). */
export function assertIntact(db: Database.Database): void {
  const problems = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
  if (problems.length === 1 && problems[0]!.quick_check === 'ok') return;
  const first = problems.slice(0, 3).map((p) => p.quick_check).join('; ');
  throw new GatewayError('DB_OPEN_FAILED', `it failed SQLite's integrity check (${first}); restore it from a backup`);
}

/** SQLite's reason, reworded where its own words do not say what to do. */
export function openFailure(err: unknown): string {
  const message = (err as Error).message;
  switch ((err as { code?: string }).code) {
    case 'SQLITE_NOTADB':
      return `${message} (the file exists but is not a SQLite database; restore it from a backup or point --db elsewhere)`;
    case 'SQLITE_CORRUPT':
      return `${message} (the database is corrupt; restore it from a backup)`;
    case 'SQLITE_CANTOPEN':
      return `${message} (check that its directory exists and the gateway may create and write files there)`;
    case 'SQLITE_READONLY':
      return `${message} (the file or its directory is read-only; the gateway needs to write it)`;
    default:
      return message;
  }
}

