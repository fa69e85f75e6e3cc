import type pg from 'pg';
import { GatewayError } from '../errors.js';

/**
 * The PostgreSQL schema: the same tables, columns and constraints as SQLite's (sqlite-schema.ts),
 * migration for migration, so version N means the same thing on both engines. Append only, and
 * a new table gets a migration here and one there. Text keys sort byte-wise (COLLATE "C") as they
 * do in SQLite, so pages and cursors agree across engines. History `seq` is not a sequence: it
 * is taken as MAX + 1 under the write lock (see postgres-store.ts), so it has no gaps and
 * numbers rows in commit order.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `CREATE TABLE routes (
     id             TEXT COLLATE "C" PRIMARY KEY,
     path_prefix    TEXT COLLATE "C" NOT NULL UNIQUE,
     mode           TEXT NOT NULL CHECK (mode IN ('legacy', 'canary', 'modern')),
     canary_percent INTEGER NOT NULL CHECK (canary_percent BETWEEN 0 AND 100),
     sticky_key     TEXT NOT NULL,
     timeout_ms     INTEGER NOT NULL CHECK (timeout_ms > 0),
     version        INTEGER NOT NULL CHECK (version > 0),
     created_at     TEXT NOT NULL,
     updated_at     TEXT NOT NULL
   );
   CREATE TABLE route_history (
     seq      BIGINT PRIMARY KEY,
     route_id TEXT COLLATE "C" NOT NULL,
     version  INTEGER NOT NULL,
     action   TEXT NOT NULL,
     before   TEXT,
     after    TEXT,
     actor    TEXT NOT NULL,
     reason   TEXT,
     at       TEXT NOT NULL,
     UNIQUE (route_id, version)
   );`,
  `ALTER TABLE routes ADD COLUMN resilience TEXT NOT NULL DEFAULT '{}';`,
  `ALTER TABLE routes ADD COLUMN max_body_bytes BIGINT CHECK (max_body_bytes >= 0);`,
  `CREATE TABLE backends (
     name       TEXT COLLATE "C" PRIMARY KEY,
     settings   TEXT NOT NULL,
     version    INTEGER NOT NULL CHECK (version > 0),
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE backend_history (
     seq     BIGINT PRIMARY KEY,
     name    TEXT COLLATE "C" NOT NULL,
     version INTEGER NOT NULL,
     action  TEXT NOT NULL,
     before  TEXT,
     after   TEXT,
     actor   TEXT NOT NULL,
     reason  TEXT,
     at      TEXT NOT NULL,
     UNIQUE (name, version)
   );
   ALTER TABLE routes ADD COLUMN legacy_backend TEXT COLLATE "C" NOT NULL DEFAULT 'legacy';
   ALTER TABLE routes ADD COLUMN modern_backend TEXT COLLATE "C" NOT NULL DEFAULT 'modern';`,
  // Shadow mode: a fourth mode, the route's shadow settings, and what shadow comparisons found,
  // per route (shadow/postgres-shadow-store.ts). Unlike SQLite, a CHECK can be replaced in place.
  `ALTER TABLE routes DROP CONSTRAINT routes_mode_check;
   ALTER TABLE routes ADD CONSTRAINT routes_mode_check CHECK (mode IN ('legacy', 'canary', 'modern', 'shadow'));
   ALTER TABLE routes ADD COLUMN shadow TEXT NOT NULL DEFAULT '{}';
   CREATE TABLE shadow_results (
     route_id   TEXT COLLATE "C" PRIMARY KEY,
     since      TEXT,
     compared   BIGINT NOT NULL DEFAULT 0,
     matched    BIGINT NOT NULL DEFAULT 0,
     mismatched BIGINT NOT NULL DEFAULT 0,
     errors     BIGINT NOT NULL DEFAULT 0,
     skipped    TEXT NOT NULL DEFAULT '{}',
     latency    TEXT NOT NULL DEFAULT '{}',
     paths      TEXT NOT NULL DEFAULT '{}',
     noise      TEXT NOT NULL DEFAULT '[]'
   );
   CREATE TABLE shadow_samples (
     seq      BIGSERIAL PRIMARY KEY,
     route_id TEXT COLLATE "C" NOT NULL,
     sample   TEXT NOT NULL
   );
   CREATE INDEX shadow_samples_by_route ON shadow_samples (route_id, seq);`,
  // The route lifecycle (rollout/stage.ts): a stage, existing routes at their mode's; how long
  // modern must serve before retiring (7 days); the saved rollout plan.
  `ALTER TABLE routes ADD COLUMN stage TEXT NOT NULL DEFAULT 'legacy' CHECK (stage IN ('legacy', 'shadow', 'canary', 'modern', 'retired'));
   UPDATE routes SET stage = mode;
   ALTER TABLE routes ADD COLUMN retire_after_ms BIGINT NOT NULL DEFAULT 604800000 CHECK (retire_after_ms > 0);
   ALTER TABLE routes ADD COLUMN rollout TEXT;`,
  // Rollouts shared by the gateways on one database (rollout/postgres-rollout-store.ts), and each
  // route's latest fallback to legacy on any gateway (rollout/fallback-ledger.ts: the retire rule).
  `CREATE TABLE rollouts (
     route_id    TEXT COLLATE "C" PRIMARY KEY,
     status      TEXT NOT NULL,
     record      TEXT NOT NULL,
     revision    BIGINT NOT NULL,
     leader      TEXT,
     lease_until BIGINT NOT NULL,
     updated_at  TEXT NOT NULL
   );
   CREATE TABLE rollout_windows (
     route_id TEXT COLLATE "C" NOT NULL,
     gateway  TEXT NOT NULL,
     step     BIGINT NOT NULL,
     counts   TEXT NOT NULL,
     at       BIGINT NOT NULL,
     PRIMARY KEY (route_id, gateway)
   );
   CREATE TABLE route_fallbacks (
     route_id TEXT COLLATE "C" PRIMARY KEY,
     last_at  BIGINT NOT NULL
   );`,
  // The outbox (outbox/): an event per lifecycle move, written in the change's transaction; the
  // webhooks events go to; each event's delivery to each of them, retried until it succeeds.
  `CREATE TABLE outbox_events (
     seq      BIGSERIAL PRIMARY KEY,
     id       TEXT COLLATE "C" NOT NULL UNIQUE,
     route_id TEXT COLLATE "C" NOT NULL,
     at       TEXT NOT NULL,
     event    TEXT NOT NULL
   );
   CREATE TABLE webhooks (
     id         TEXT COLLATE "C" PRIMARY KEY,
     url        TEXT COLLATE "C" NOT NULL UNIQUE,
     source     TEXT NOT NULL CHECK (source IN ('flag', 'api')),
     created_at TEXT NOT NULL
   );
   CREATE TABLE outbox_deliveries (
     event_id        TEXT COLLATE "C" NOT NULL REFERENCES outbox_events (id),
     url             TEXT COLLATE "C" NOT NULL,
     attempts        INTEGER NOT NULL DEFAULT 0,
     next_attempt_at BIGINT NOT NULL,
     delivered_at    TEXT,
     last_error      TEXT,
     claimed_by      TEXT,
     PRIMARY KEY (event_id, url)
   );
   CREATE INDEX outbox_deliveries_due ON outbox_deliveries (next_attempt_at) WHERE delivered_at IS NULL;`,
];

/** Advisory lock keys (two int4s: the application, then the purpose), shared by every gateway on the database. */
export const LOCK_APP = 0x53_47_57_31; // "SGW1"
export const MIGRATE_LOCK = 1;
export const WRITE_LOCK = 2;

/**
 * Brings the schema to PG_MIGRATIONS.length under a session advisory lock, so gateways starting
 * together migrate once: the others wait, then find nothing to do. Each step is transactional.
 */
export async function migratePostgres(client: pg.ClientBase): Promise<void> {
  await client.query('SELECT pg_advisory_lock($1, $2)', [LOCK_APP, MIGRATE_LOCK]);
  try {
    await client.query('BEGIN');
    try {
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_version');
      const current = rows[0]?.version ?? 0;
      if (current > PG_MIGRATIONS.length) {
        throw new GatewayError('DB_OPEN_FAILED', `it has schema version ${current}, newer than this gateway's ${PG_MIGRATIONS.length}; upgrade the gateway`);
      }
      for (let v = current; v < PG_MIGRATIONS.length; v++) await client.query(PG_MIGRATIONS[v]!);
      if (rows.length === 0) await client.query('INSERT INTO schema_version (version) VALUES ($1)', [PG_MIGRATIONS.length]);
      else await client.query('UPDATE schema_version SET version = $1', [PG_MIGRATIONS.length]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_APP, MIGRATE_LOCK]).catch(() => undefined);
  }
}
