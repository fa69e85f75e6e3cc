/**
 * A history row's fields common to routes and backends: written with every change in its
 * transaction, read back as a history entry. `before`/`after` are the whole object as JSON.
 */
export interface HistoryColumns {
  version: number;
  action: string;
  before: string | null;
  after: string | null;
  actor: string;
  reason: string | null;
  at: string;
}

/** The columns of a new history row. */
export function historyColumns(
  action: string,
  before: object | null,
  after: object | null,
  meta: { actor: string; reason?: string | undefined },
  version: number,
  at: string,
): HistoryColumns {
  return {
    version,
    action,
    before: before && JSON.stringify(before),
    after: after && JSON.stringify(after),
    actor: meta.actor,
    reason: meta.reason ?? null,
    at,
  };
}

/** A row's columns with `before`/`after` parsed, ready for the entry's schema. */
export function historyFields(row: HistoryColumns) {
  return {
    version: row.version,
    action: row.action,
    before: row.before && (JSON.parse(row.before) as unknown),
    after: row.after && (JSON.parse(row.after) as unknown),
    actor: row.actor,
    reason: row.reason,
    at: row.at,
  };
}
