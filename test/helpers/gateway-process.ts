import Database from 'better-sqlite3';
import { expect } from 'vitest';
import type { HistoryRow, RouteRow } from '../../src/routing/store.js';
import { runCli, type CliRun } from './cli.js';
import type { StubBackend } from './servers.js';

export interface GatewayProcess {
  run: CliRun;
  proxy: string;
  admin: string;
  /** Its "gateway listening" log line. */
  listening: Record<string, unknown>;
}

/**
 * Starts `strangler serve` in a child process on ephemeral loopback ports and the given database;
 * `program` runs another command line than the CLI from source (see runCli).
 */
export async function spawnGateway(
  db: string,
  backends: { legacy: StubBackend; modern: StubBackend },
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
  program?: string[],
): Promise<GatewayProcess> {
  const run = runCli([...serveArgs(db, backends), ...extraArgs], env, { program });
  try {
    const line = await run.waitForLog('gateway listening', 30_000);
    return { run, proxy: line.proxy as string, admin: line.admin as string, listening: line };
  } catch (err) {
    run.kill('SIGKILL');
    throw err;
  }
}

/** `strangler serve` on ephemeral loopback ports in front of `backends`. */
export function serveArgs(db: string, backends: { legacy: StubBackend; modern: StubBackend }): string[] {
  return ['serve', '--legacy', backends.legacy.url, '--modern', backends.modern.url, '--db', db, '--port', '0', '--host', '127.0.0.1', '--admin-port', '0'];
}

/** Calls an admin API with a JSON body; never throws on an HTTP status. */
export async function adminCall(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

export interface StoreContents {
  routes: RouteRow[];
  /** History rows by route id, oldest first. */
  history: Map<string, HistoryRow[]>;
}

/**
 * Opens a route database the way a restarting gateway would (read-write, so SQLite recovers its
 * WAL) and asserts what must hold after any crash: `PRAGMA integrity_check` is ok, and every
 * route's version is its newest history row, which describes exactly that row.
 */
export function checkStore(file: string): StoreContents {
  const db = new Database(file, { fileMustExist: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const routes = db.prepare<[], RouteRow>('SELECT * FROM routes ORDER BY id').all();
    const rows = db.prepare<[], HistoryRow>('SELECT * FROM route_history ORDER BY route_id, version').all();
    return consistent(routes, rows);
  } finally {
    db.close();
  }
}

/** checkStore for either engine: a SQLite path, or a PostgreSQL URL (read with its own connection). */
export async function checkStoreAt(db: string): Promise<StoreContents> {
  if (!/^postgres(ql)?:/.test(db)) return checkStore(db);
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  try {
    const routes = (await client.query<RouteRow>('SELECT * FROM routes ORDER BY id')).rows;
    const rows = (await client.query<HistoryRow>('SELECT route_id, version, action, before, after, actor, reason, at FROM route_history ORDER BY route_id, version')).rows;
    return consistent(routes, rows);
  } finally {
    await client.end();
  }
}

function consistent(routes: RouteRow[], rows: HistoryRow[]): StoreContents {
  const history = new Map<string, HistoryRow[]>();
  for (const row of rows) history.set(row.route_id, [...(history.get(row.route_id) ?? []), row]);
  for (const route of routes) {
    const newest = history.get(route.id)?.at(-1);
    expect(newest?.version, `route ${route.id}: version vs history`).toBe(route.version);
    expect(JSON.parse(newest!.after!), `route ${route.id}: newest history row`).toMatchObject({
      id: route.id,
      version: route.version,
      pathPrefix: route.path_prefix,
      mode: route.mode,
      canaryPercent: route.canary_percent,
      timeoutMs: route.timeout_ms,
    });
  }
  return { routes, history };
}
