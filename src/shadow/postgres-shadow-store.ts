import type pg from 'pg';
import type { ShadowStore } from './shadow-store.js';
import { resultRow, totalsOf, type ResultRow } from './shadow-store.js';
import { KEPT_SAMPLES, emptyCounts, mergeCounts, type ShadowCounts, type ShadowSample } from './tally.js';

/**
 * The PostgreSQL ShadowStore (tables from PG migration 5), on the route store's pool. A flush
 * locks each route's results row (SELECT … FOR UPDATE) so gateways adding their counts at once
 * add up; it never takes the route table's write lock, so an apply never holds it up.
 */
export class PostgresShadowStore implements ShadowStore {
  constructor(private readonly pool: pg.Pool) {}

  async flush(deltas: ReadonlyMap<string, ShadowCounts>): Promise<Map<string, string[]>> {
    const noise = new Map<string, string[]>();
    await this.transaction(async (c) => {
      // In one order on every gateway, so two flushes locking the same rows never deadlock.
      for (const [routeId, delta] of [...deltas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const totals = mergeCounts(await this.totals(c, routeId, true), { ...delta, samples: [] });
        await put(c, resultRow(routeId, totals));
        // Oldest first, so the newest sample gets the highest seq.
        for (const sample of [...delta.samples].reverse()) await c.query('INSERT INTO shadow_samples (route_id, sample) VALUES ($1, $2)', [routeId, JSON.stringify(sample)]);
        if (delta.samples.length > 0) {
          await c.query(
            'DELETE FROM shadow_samples WHERE route_id = $1 AND seq NOT IN (SELECT seq FROM shadow_samples WHERE route_id = $1 ORDER BY seq DESC LIMIT $2)',
            [routeId, KEPT_SAMPLES],
          );
        }
        noise.set(routeId, totals.noise);
      }
    });
    return noise;
  }

  async read(routeId: string): Promise<ShadowCounts> {
    const { rows } = await this.pool.query<{ sample: string }>('SELECT sample FROM shadow_samples WHERE route_id = $1 ORDER BY seq DESC LIMIT $2', [routeId, KEPT_SAMPLES]);
    return { ...(await this.totals(this.pool, routeId, false)), samples: rows.map((r) => JSON.parse(r.sample) as ShadowSample) };
  }

  async summaries(routeIds: readonly string[]): Promise<Map<string, Pick<ShadowCounts, 'compared' | 'matched' | 'mismatched'>>> {
    if (routeIds.length === 0) return new Map();
    const { rows } = await this.pool.query<ResultRow>('SELECT * FROM shadow_results WHERE route_id = ANY($1::text[])', [routeIds]);
    return new Map(rows.map((r) => [r.route_id, { compared: Number(r.compared), matched: Number(r.matched), mismatched: Number(r.mismatched) }]));
  }

  async clear(routeId: string, at: string): Promise<void> {
    await this.transaction(async (c) => {
      const { noise } = await this.totals(c, routeId, true);
      await put(c, resultRow(routeId, { ...emptyCounts(), since: at, noise }));
      await c.query('DELETE FROM shadow_samples WHERE route_id = $1', [routeId]);
    });
  }

  /** The route's totals; `lock` takes its row for the rest of the transaction (creating it first, so there is one to lock). */
  private async totals(db: pg.ClientBase | pg.Pool, routeId: string, lock: boolean): Promise<ShadowCounts> {
    if (lock) await db.query('INSERT INTO shadow_results (route_id) VALUES ($1) ON CONFLICT (route_id) DO NOTHING', [routeId]);
    const { rows } = await db.query<ResultRow>(`SELECT * FROM shadow_results WHERE route_id = $1${lock ? ' FOR UPDATE' : ''}`, [routeId]);
    return rows[0] === undefined ? emptyCounts() : totalsOf(rows[0]);
  }

  private async transaction(fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await fn(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      client.release(broken);
    }
  }
}

function put(c: pg.ClientBase, r: ResultRow): Promise<unknown> {
  return c.query(
    `INSERT INTO shadow_results (route_id, since, compared, matched, mismatched, errors, skipped, latency, paths, noise)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (route_id) DO UPDATE SET since = EXCLUDED.since, compared = EXCLUDED.compared, matched = EXCLUDED.matched,
       mismatched = EXCLUDED.mismatched, errors = EXCLUDED.errors, skipped = EXCLUDED.skipped, latency = EXCLUDED.latency,
       paths = EXCLUDED.paths, noise = EXCLUDED.noise`,
    [r.route_id, r.since, r.compared, r.matched, r.mismatched, r.errors, r.skipped, r.latency, r.paths, r.noise],
  );
}
