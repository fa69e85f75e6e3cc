import type Database from 'better-sqlite3';
import { withoutWaiting } from '../store/sqlite-no-wait.js';
import { KEPT_SAMPLES, emptyCounts, mergeCounts, type ShadowCounts, type ShadowSample } from './tally.js';

/**
 * Where shadow results live, shared by every gateway on one database. Promise-returning so an
 * engine whose driver is asynchronous (PostgreSQL) can implement it too.
 */
export interface ShadowStore {
  /** Adds each route's delta to its totals in one transaction; returns each flushed route's noise fields, as all gateways learnt them. */
  flush(deltas: ReadonlyMap<string, ShadowCounts>): Promise<Map<string, string[]>>;
  /** A route's totals; zero counts for a route that never ran shadow. */
  read(routeId: string): Promise<ShadowCounts>;
  /** The compared and matched counts of several routes (for /status). */
  summaries(routeIds: readonly string[]): Promise<Map<string, Pick<ShadowCounts, 'compared' | 'matched' | 'mismatched'>>>;
  /** Forgets a route's counts and samples (learnt noise stays); counting restarts at `at`. */
  clear(routeId: string, at: string): Promise<void>;
}

/** A `shadow_results` row, as both engines store it. */
export interface ResultRow {
  route_id: string;
  since: string | null;
  compared: number;
  matched: number;
  mismatched: number;
  errors: number;
  skipped: string;
  latency: string;
  paths: string;
  noise: string;
}

/** The SQLite ShadowStore, on the RouteStore's own connection (tables from migration 5). */
export class SqliteShadowStore implements ShadowStore {
  private readonly stmts;

  constructor(private readonly db: Database.Database) {
    this.stmts = {
      get: db.prepare<[string], ResultRow>('SELECT * FROM shadow_results WHERE route_id = ?'),
      many: db.prepare<[string], ResultRow>('SELECT * FROM shadow_results WHERE route_id IN (SELECT value FROM json_each(?))'),
      put: db.prepare(
        `INSERT OR REPLACE INTO shadow_results (route_id, since, compared, matched, mismatched, errors, skipped, latency, paths, noise)
         VALUES (@route_id, @since, @compared, @matched, @mismatched, @errors, @skipped, @latency, @paths, @noise)`,
      ),
      addSample: db.prepare<[string, string]>('INSERT INTO shadow_samples (route_id, sample) VALUES (?, ?)'),
      trimSamples: db.prepare<[string, string, number]>(
        'DELETE FROM shadow_samples WHERE route_id = ? AND seq NOT IN (SELECT seq FROM shadow_samples WHERE route_id = ? ORDER BY seq DESC LIMIT ?)',
      ),
      samples: db.prepare<[string, number], { sample: string }>('SELECT sample FROM shadow_samples WHERE route_id = ? ORDER BY seq DESC LIMIT ?'),
      clearSamples: db.prepare<[string]>('DELETE FROM shadow_samples WHERE route_id = ?'),
    };
  }

  /**
   * Runs on the serving event loop, so it never waits for another writer's lock (an apply in a
   * worker can hold it for seconds): a busy database fails the flush at once, and the caller keeps
   * the deltas for the next one.
   */
  async flush(deltas: ReadonlyMap<string, ShadowCounts>): Promise<Map<string, string[]>> {
    const noise = new Map<string, string[]>();
    withoutWaiting(this.db, () => this.write(deltas, noise));
    return noise;
  }

  private write(deltas: ReadonlyMap<string, ShadowCounts>, noise: Map<string, string[]>): void {
    this.db
      .transaction(() => {
        for (const [routeId, delta] of deltas) {
          const totals = mergeCounts(this.totals(routeId), { ...delta, samples: [] });
          this.stmts.put.run(resultRow(routeId, totals));
          // Oldest first, so the newest sample gets the highest seq.
          for (const sample of [...delta.samples].reverse()) this.stmts.addSample.run(routeId, JSON.stringify(sample));
          if (delta.samples.length > 0) this.stmts.trimSamples.run(routeId, routeId, KEPT_SAMPLES);
          noise.set(routeId, totals.noise);
        }
      })
      .immediate();
  }

  async read(routeId: string): Promise<ShadowCounts> {
    const samples = this.stmts.samples.all(routeId, KEPT_SAMPLES).map((r) => JSON.parse(r.sample) as ShadowSample);
    return { ...this.totals(routeId), samples };
  }

  async summaries(routeIds: readonly string[]): Promise<Map<string, Pick<ShadowCounts, 'compared' | 'matched' | 'mismatched'>>> {
    const rows = this.stmts.many.all(JSON.stringify(routeIds));
    return new Map(rows.map((r) => [r.route_id, { compared: r.compared, matched: r.matched, mismatched: r.mismatched }]));
  }

  async clear(routeId: string, at: string): Promise<void> {
    this.db
      .transaction(() => {
        const noise = this.totals(routeId).noise;
        this.stmts.put.run(resultRow(routeId, { ...emptyCounts(), since: at, noise }));
        this.stmts.clearSamples.run(routeId);
      })
      .immediate();
  }

  private totals(routeId: string): ShadowCounts {
    const row = this.stmts.get.get(routeId);
    return row === undefined ? emptyCounts() : totalsOf(row);
  }
}

/** A results row as counts (the counters' JSON filled out with zeros for keys a row lacks). */
export function totalsOf(row: ResultRow): ShadowCounts {
  const empty = emptyCounts();
  return {
    since: row.since,
    compared: Number(row.compared),
    matched: Number(row.matched),
    mismatched: Number(row.mismatched),
    errors: Number(row.errors),
    skipped: { ...empty.skipped, ...(JSON.parse(row.skipped) as Partial<ShadowCounts['skipped']>) },
    latency: { ...empty.latency, ...(JSON.parse(row.latency) as Partial<ShadowCounts['latency']>) },
    paths: JSON.parse(row.paths) as Record<string, number>,
    noise: JSON.parse(row.noise) as string[],
    samples: [],
  };
}

/** Counts as a results row. */
export function resultRow(routeId: string, c: ShadowCounts): ResultRow {
  return {
    route_id: routeId,
    since: c.since,
    compared: c.compared,
    matched: c.matched,
    mismatched: c.mismatched,
    errors: c.errors,
    skipped: JSON.stringify(c.skipped),
    latency: JSON.stringify(c.latency),
    paths: JSON.stringify(c.paths),
    noise: JSON.stringify(c.noise),
  };
}
