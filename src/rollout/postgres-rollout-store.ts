import type pg from 'pg';
import { rolloutChanged, rolloutRunning, rowValues, toRecord, type RolloutRecord, type RolloutRow, type RolloutStore, type RolloutWrite } from './rollout-store.js';
import type { StepCounts } from './step-window.js';

const START = `INSERT INTO rollouts (route_id, status, record, revision, leader, lease_until, updated_at)
  VALUES ($1, $2, $3, 1, $4, $5, $6)
  ON CONFLICT (route_id) DO UPDATE SET status = excluded.status, record = excluded.record, revision = rollouts.revision + 1,
    leader = excluded.leader, lease_until = excluded.lease_until, updated_at = excluded.updated_at
  WHERE rollouts.status NOT IN ('running', 'paused')`;
const SAVE = 'UPDATE rollouts SET status = $2, record = $3, revision = $4, updated_at = $5 WHERE route_id = $1 AND revision = $4 - 1';

/**
 * The PostgreSQL RolloutStore (tables from PG migration 7), on the route store's pool. Every
 * write is one conditional statement (a revision or a lease expiry in its WHERE), so gateways
 * racing on one rollout never both win, and none of them takes the route table's write lock.
 */
export class PostgresRolloutStore implements RolloutStore {
  constructor(private readonly pool: pg.Pool, private readonly timestamp: () => string) {}

  async get(routeId: string): Promise<RolloutRecord | undefined> {
    const { rows } = await this.pool.query<RolloutRow>('SELECT * FROM rollouts WHERE route_id = $1', [routeId]);
    return rows[0] && toRecord(rows[0]);
  }

  async active(): Promise<RolloutRecord[]> {
    const { rows } = await this.pool.query<RolloutRow>(`SELECT * FROM rollouts WHERE status IN ('running', 'paused') ORDER BY route_id`);
    return rows.map(toRecord);
  }

  save = (record: RolloutRecord) => saveOn(this.pool, record, record.revision, this.timestamp());

  async claim(routeId: string, gateway: string, until: number, now: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE rollouts SET leader = $1, lease_until = $2 WHERE route_id = $3 AND status IN ('running', 'paused') AND (leader = $1 OR lease_until <= $4)`,
      [gateway, until, routeId, now],
    );
    return rowCount === 1;
  }

  async publish(routeId: string, gateway: string, step: number, counts: StepCounts, at: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO rollout_windows (route_id, gateway, step, counts, at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (route_id, gateway) DO UPDATE SET step = excluded.step, counts = excluded.counts, at = excluded.at`,
      [routeId, gateway, step, JSON.stringify(counts), at],
    );
  }

  async windows(routeId: string, step: number): Promise<{ gateway: string; counts: StepCounts }[]> {
    const { rows } = await this.pool.query<{ gateway: string; counts: string }>('SELECT gateway, counts FROM rollout_windows WHERE route_id = $1 AND step = $2', [routeId, step]);
    return rows.map((r) => ({ gateway: r.gateway, counts: JSON.parse(r.counts) as StepCounts }));
  }

  async noteFallbacks(latest: ReadonlyMap<string, number>): Promise<void> {
    await this.pool.query(
      `INSERT INTO route_fallbacks (route_id, last_at) SELECT * FROM UNNEST($1::text[], $2::bigint[])
       ON CONFLICT (route_id) DO UPDATE SET last_at = GREATEST(route_fallbacks.last_at, excluded.last_at)`,
      [[...latest.keys()], [...latest.values()]],
    );
  }

  async lastFallbackAt(routeId: string): Promise<number | null> {
    const { rows } = await this.pool.query<{ last_at: number }>('SELECT last_at FROM route_fallbacks WHERE route_id = $1', [routeId]);
    return rows[0]?.last_at ?? null;
  }
}

/** The rollout half of a route change, on the change's transaction client (Store.update); throws to undo both. */
export async function writeRolloutWith(client: pg.ClientBase, write: RolloutWrite, routeVersion: number, at: string): Promise<void> {
  const record = { ...write.record, version: routeVersion };
  if (write.expectedRevision === null) {
    const v = rowValues(record, 1, at);
    const { rowCount } = await client.query(START, [v.routeId, v.status, v.record, v.leader, v.leaseUntil, v.at]);
    if (rowCount !== 1) throw rolloutRunning(record.routeId);
    await client.query('DELETE FROM rollout_windows WHERE route_id = $1', [record.routeId]);
    return;
  }
  if (!(await saveOn(client, record, write.expectedRevision, at))) throw rolloutChanged(record.routeId);
}

async function saveOn(db: pg.Pool | pg.ClientBase, record: RolloutRecord, expectedRevision: number, at: string): Promise<boolean> {
  const v = rowValues(record, expectedRevision + 1, at);
  const { rowCount } = await db.query(SAVE, [v.routeId, v.status, v.record, v.revision, v.at]);
  return rowCount === 1;
}
