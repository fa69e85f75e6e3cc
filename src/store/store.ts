import type { z } from 'zod';
import type { BackendChangeMeta, StartupSettings } from '../backends/store.js';
import type { Backend, BackendChanges, BackendCreate, BackendHistoryEntry, Side } from '../backends/schema.js';
import type { LiveRowReader } from '../routing/live-row.js';
import type { Plan } from '../routing/plan.js';
import type { DesiredRoute } from '../routing/route-file.js';
import type { ApplyOptions, FeedPosition, RouteChanges } from '../routing/store.js';
import type { ChangeMeta, HistoryAction, HistoryEntry, Route, RouteCreate } from '../routing/schema.js';
import type { RolloutStore, RolloutWrite } from '../rollout/rollout-store.js';
import type { ShadowStore } from '../shadow/shadow-store.js';
import type { OutboxStore } from '../outbox/outbox-store.js';
import type { ApplyJob, ApplyOutcome } from './apply-job.js';

/**
 * Whether the database answers. `degraded`: it cannot be reached; the data plane serves the
 * table it last read, writes answer STORE_UNAVAILABLE, and the store reconnects by itself.
 */
export type StoreHealth = { state: 'ok' } | { state: 'degraded'; reason: string };

/** The named backends, as the admin API and the live table see them. */
export interface BackendStoreApi {
  list(): Promise<Backend[]>;
  get(name: string): Promise<Backend | undefined>;
  usedBy(name: string): Promise<string[]>;
  history(name: string): Promise<BackendHistoryEntry[]>;
  create(input: z.input<typeof BackendCreate>, meta: BackendChangeMeta): Promise<Backend>;
  update(name: string, changes: BackendChanges, meta: BackendChangeMeta): Promise<Backend>;
  delete(name: string, meta: BackendChangeMeta): Promise<Backend>;
  ensureDefaults(given: Partial<Record<Side, StartupSettings>>, meta: BackendChangeMeta): Promise<void>;
}

/**
 * The route table's durable home, whichever engine keeps it (SQLite: sqlite-store.ts;
 * PostgreSQL: postgres-store.ts). The admin API, the CLI, the change feed and the data plane's
 * live table see only this. Every change is one transaction with its history rows; history
 * rows are numbered in commit order (the change feed), so "everything after N" never skips one.
 */
export interface Store {
  readonly engine: 'sqlite' | 'postgres';
  /** Where the data lives, safe to print (a URL's password redacted). */
  readonly location: string;
  readonly isOpen: boolean;
  readonly health: StoreHealth;
  readonly backends: BackendStoreApi;
  /** Shadow mode's counts and samples, in the same database. */
  readonly shadow: ShadowStore;
  /** Rollouts and their leases, in the same database. */
  readonly rollouts: RolloutStore;
  /** Lifecycle events (written with each change that moves a stage), their webhooks and deliveries. */
  readonly outbox: OutboxStore;
  close(): Promise<void>;
  /** Called after a change is committed: by this process, or (where the engine can tell) by another. */
  onChange(listener: () => void): () => void;
  /** A value that changes whenever anyone commits; cheap enough to poll as the safety net. */
  changeStamp(): Promise<string>;
  feedPosition(): Promise<FeedPosition>;
  routeChanges(after: number, limit: number): Promise<{ seq: number; routeId: string }[]>;
  liveRoutes(ids: readonly string[], reader: LiveRowReader): Promise<Route[]>;
  liveRoutesPage(after: string, limit: number, reader: LiveRowReader): Promise<Route[]>;
  list(): Promise<Route[]>;
  page(limit: number, after?: string): Promise<Route[]>;
  get(id: string): Promise<Route | undefined>;
  history(id: string): Promise<HistoryEntry[]>;
  create(raw: z.input<typeof RouteCreate>, meta: ChangeMeta): Promise<Route>;
  /** With `rollout`, the rollout's state is written in the change's transaction: both happen or neither. */
  update(id: string, changes: RouteChanges, meta: ChangeMeta, action?: HistoryAction, rollout?: RolloutWrite): Promise<Route>;
  rollback(id: string, toVersion: number | undefined, meta: ChangeMeta): Promise<Route>;
  delete(id: string, meta: ChangeMeta): Promise<Route>;
  apply(desired: readonly DesiredRoute[], options: ApplyOptions, meta: ChangeMeta): Promise<Plan>;
  /** One `POST /apply` body, applied where it costs the serving event loop nothing. */
  applyFile(job: ApplyJob): Promise<ApplyOutcome>;
}
