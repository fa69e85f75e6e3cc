import { desiredBackend } from '../backends/plan.js';
import { GatewayError, isGatewayError, type ErrorCode } from '../errors.js';
import { applyResult, type Plan } from '../routing/plan.js';
import { ApplyRequest, desiredRoute, parseRouteFile, type DesiredRoute } from '../routing/route-file.js';
import type { ChangeMeta } from '../routing/schema.js';
import type { ApplyOptions, RouteStore } from '../routing/store.js';
import type { Store } from './store.js';

/** How many routes and backends an apply changed, with the first AUDIT_NAMES of each by name. */
export interface Changed {
  routes: number;
  backends: number;
  routeIds: string[];
  backendNames: string[];
}

/** An apply names up to this many changed routes (and backends) in its audit log; past it, counts. */
export const AUDIT_NAMES = 100;

/** One `POST /apply`: the raw body and who asked; what an apply process is handed. */
export interface ApplyJob {
  body: Uint8Array;
  meta: ChangeMeta;
}

/**
 * What a job answers: the result as JSON bytes (a large plan is encoded where it was computed and
 * handed over without a copy, never parsed or encoded on the serving thread), or the error.
 */
export type ApplyOutcome =
  | { ok: true; json: Uint8Array; changed: Changed }
  | { ok: false; code: ErrorCode; message: string; details?: unknown; sqliteCode?: string };

/** A job's body read as a route file: what to apply, and how. */
interface ParsedJob {
  desired: DesiredRoute[];
  options: ApplyOptions;
  meta: ChangeMeta;
}

/**
 * Parses, validates, plans and applies a route file in one transaction of `store`. The same
 * code runs on the serving thread for small files and in a child process for large ones.
 */
export function runApplyJob(store: RouteStore, job: ApplyJob): ApplyOutcome {
  try {
    const parsed = parseJob(job);
    return outcomeOf(store.apply(parsed.desired, parsed.options, parsed.meta), parsed.options.dryRun);
  } catch (err) {
    return failureOf(err);
  }
}

/** runApplyJob for a store whose calls are asynchronous (PostgreSQL: the database does the work). */
export async function runApplyJobOn(store: Store, job: ApplyJob): Promise<ApplyOutcome> {
  try {
    const parsed = parseJob(job);
    return outcomeOf(await store.apply(parsed.desired, parsed.options, parsed.meta), parsed.options.dryRun);
  } catch (err) {
    return failureOf(err);
  }
}

function parseJob(job: ApplyJob): ParsedJob {
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength).toString('utf8'));
  } catch (err) {
    throw new GatewayError('INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`);
  }
  const input = parseRouteFile(ApplyRequest, document);
  return {
    desired: input.routes.map(desiredRoute),
    options: { prune: input.prune, dryRun: input.dryRun, backends: input.backends?.map(desiredBackend) },
    meta: { ...job.meta, reason: input.reason ?? job.meta.reason },
  };
}

function outcomeOf(plan: Plan, dryRun: boolean): ApplyOutcome {
  const result = applyResult(plan, !dryRun);
  const changedOf = <C extends { action: string }>(changes: C[], key: (c: C) => string) =>
    dryRun ? [] : changes.filter((c) => c.action !== 'unchanged').map(key);
  const routes = changedOf(plan.changes, (c) => c.id);
  const backends = changedOf(plan.backends.changes, (c) => c.name);
  return {
    ok: true,
    json: Buffer.from(JSON.stringify(result)),
    changed: { routes: routes.length, backends: backends.length, routeIds: routes.slice(0, AUDIT_NAMES), backendNames: backends.slice(0, AUDIT_NAMES) },
  };
}

function failureOf(err: unknown): ApplyOutcome {
  if (isGatewayError(err)) return { ok: false, code: err.code, message: err.message, details: err.details };
  const sqliteCode = (err as { code?: string }).code;
  return { ok: false, code: 'INTERNAL', message: (err as Error).message, sqliteCode };
}

/** The outcome's error as the admin API throws it (SQLite's busy codes keep theirs, so they answer DB_BUSY). */
export function outcomeError(outcome: Extract<ApplyOutcome, { ok: false }>): Error {
  if (outcome.sqliteCode !== undefined && outcome.code === 'INTERNAL') return Object.assign(new Error(outcome.message), { code: outcome.sqliteCode });
  return new GatewayError(outcome.code, outcome.message, { details: outcome.details });
}
