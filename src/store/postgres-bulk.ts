import type pg from 'pg';
import type { ChangeMeta, HistoryAction, Route, RouteSettings } from '../routing/schema.js';
import { parkedPrefix } from './apply-steps.js';
import { randomUUID } from 'node:crypto';
import { eventOf, type OutboxEvent } from '../outbox/event.js';
import { insertEvents } from '../outbox/postgres-outbox-store.js';
import { historyColumns } from './history-row.js';

/** Rows per statement: a few statements per thousand routes instead of a few round trips per route. */
const CHUNK = 1_000;

/**
 * The route writes of an apply on PostgreSQL, in bulk (arrays through `unnest`). The plan was
 * checked against the final table first (prefixes, backends), as for SQLite's row-by-row writes;
 * the UNIQUE constraints stay the safety net. History rows keep the order SQLite gives them, and
 * their feed numbers follow MAX + 1 under the write lock.
 */
export class PgBulkRoutes {
  constructor(
    private readonly db: pg.PoolClient,
    private readonly timestamp: () => string,
  ) {}

  async delete(routes: readonly Route[], meta: ChangeMeta): Promise<void> {
    for (const chunk of chunks(routes)) {
      await this.db.query('DELETE FROM routes WHERE id = ANY($1::text[])', [chunk.map((r) => r.id)]);
      await this.history(chunk.map((r) => ({ action: 'delete', before: r, after: null, version: r.version + 1 })), meta);
    }
  }

  async park(routes: readonly Route[]): Promise<void> {
    for (const chunk of chunks(routes)) {
      await this.db.query(`UPDATE routes AS r SET path_prefix = u.prefix FROM unnest($1::text[], $2::text[]) AS u(id, prefix) WHERE r.id = u.id COLLATE "C"`, [
        chunk.map((r) => r.id),
        chunk.map((r) => parkedPrefix(r.id)),
      ]);
    }
  }

  async update(changes: readonly { route: Route; settings: RouteSettings }[], meta: ChangeMeta): Promise<void> {
    for (const chunk of chunks(changes)) {
      const next = chunk.map(({ route, settings }) => ({ ...route, ...settings, version: route.version + 1, updatedAt: this.timestamp() }));
      const [ids, prefixes, modes, percents, stickies, timeouts, bodies, resiliences, legacies, moderns, versions, , updated, shadows, stages, retires, rollouts] = columns(next);
      await this.db.query(
        `UPDATE routes AS r SET path_prefix = u.path_prefix, mode = u.mode, canary_percent = u.canary_percent, sticky_key = u.sticky_key,
           timeout_ms = u.timeout_ms, max_body_bytes = u.max_body_bytes, resilience = u.resilience, legacy_backend = u.legacy_backend,
           modern_backend = u.modern_backend, version = u.version, updated_at = u.updated_at, shadow = u.shadow,
           stage = u.stage, retire_after_ms = u.retire_after_ms, rollout = u.rollout
         FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::int[], $12::text[], $13::text[],
                     $14::text[], $15::bigint[], $16::text[])
           AS u(id, path_prefix, mode, canary_percent, sticky_key, timeout_ms, max_body_bytes, resilience, legacy_backend, modern_backend, version, updated_at, shadow,
                stage, retire_after_ms, rollout)
         WHERE r.id = u.id COLLATE "C"`,
        [ids, prefixes, modes, percents, stickies, timeouts, bodies, resiliences, legacies, moderns, versions, updated, shadows, stages, retires, rollouts],
      );
      await this.history(chunk.map(({ route }, i) => ({ action: 'update', before: route, after: next[i]!, version: next[i]!.version })), meta);
    }
  }

  async create(creates: readonly { id: string; settings: RouteSettings }[], meta: ChangeMeta): Promise<void> {
    for (const chunk of chunks(creates)) {
      // A re-created id continues its old numbering, so its history stays one sequence.
      const { rows } = await this.db.query<{ id: string; v: number }>(
        'SELECT route_id AS id, MAX(version) AS v FROM route_history WHERE route_id = ANY($1::text[]) GROUP BY route_id',
        [chunk.map((c) => c.id)],
      );
      const last = new Map(rows.map((r) => [r.id, r.v]));
      const routes: Route[] = chunk.map(({ id, settings }) => {
        const now = this.timestamp();
        return { id, ...settings, version: (last.get(id) ?? 0) + 1, createdAt: now, updatedAt: now };
      });
      await this.db.query(
        `INSERT INTO routes (id, path_prefix, mode, canary_percent, sticky_key, timeout_ms, max_body_bytes, resilience, legacy_backend, modern_backend, version, created_at, updated_at, shadow,
                             stage, retire_after_ms, rollout)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::text[], $10::text[], $11::int[], $12::text[], $13::text[], $14::text[],
                              $15::text[], $16::bigint[], $17::text[])`,
        columns(routes),
      );
      await this.history(routes.map((r) => ({ action: 'create', before: null, after: r, version: r.version })), meta);
    }
  }

  private async history(rows: { action: HistoryAction; before: Route | null; after: Route | null; version: number }[], meta: ChangeMeta): Promise<void> {
    const h = rows.map((r) => ({ routeId: (r.after ?? r.before)!.id, ...historyColumns(r.action, r.before, r.after, meta, r.version, this.timestamp()) }));
    const events = rows.flatMap((r, i): OutboxEvent[] => {
      const event = eventOf(r.action, r.before, r.after, meta, { id: randomUUID(), at: h[i]!.at, version: r.version });
      return event === undefined ? [] : [event];
    });
    await this.db.query(
      `INSERT INTO route_history (seq, route_id, version, action, before, after, actor, reason, at)
       SELECT base.n + u.ord, u.route_id, u.version, u.action, u.before, u.after, u.actor, u.reason, u.at
       FROM (SELECT COALESCE(MAX(seq), 0) AS n FROM route_history) AS base,
            unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
              WITH ORDINALITY AS u(route_id, version, action, before, after, actor, reason, at, ord)`,
      [h.map((r) => r.routeId), h.map((r) => r.version), h.map((r) => r.action), h.map((r) => r.before), h.map((r) => r.after), h.map((r) => r.actor), h.map((r) => r.reason), h.map((r) => r.at)],
    );
    // The events of the changes that move a stage, in the same transaction.
    await insertEvents(this.db, events, Date.parse(this.timestamp()));
  }
}

function* chunks<T>(items: readonly T[]): Generator<T[]> {
  for (let i = 0; i < items.length; i += CHUNK) yield items.slice(i, i + CHUNK);
}

/** The routes' columns as arrays, in the order of the `routes` table's insert. */
function columns(routes: readonly Route[]): unknown[][] {
  return [
    routes.map((r) => r.id),
    routes.map((r) => r.pathPrefix),
    routes.map((r) => r.mode),
    routes.map((r) => r.canaryPercent),
    routes.map((r) => r.stickyKey),
    routes.map((r) => r.timeoutMs),
    routes.map((r) => r.maxBodyBytes),
    routes.map((r) => JSON.stringify(r.resilience)),
    routes.map((r) => r.legacyBackend),
    routes.map((r) => r.modernBackend),
    routes.map((r) => r.version),
    routes.map((r) => r.createdAt),
    routes.map((r) => r.updatedAt),
    routes.map((r) => JSON.stringify(r.shadow)),
    routes.map((r) => r.stage),
    routes.map((r) => r.retireAfterMs),
    routes.map((r) => (r.rollout === null ? null : JSON.stringify(r.rollout))),
  ];
}
