import Database from 'better-sqlite3';
import fc from 'fast-check';
import pg from 'pg';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendSpec, desiredBackend } from '../../src/backends/plan.js';
import { GatewayError, type ErrorCode } from '../../src/errors.js';
import { LiveRowReader } from '../../src/routing/live-row.js';
import { RouteSpec, desiredRoute } from '../../src/routing/route-file.js';
import type { ChangeMeta } from '../../src/routing/schema.js';
import { IN_THREAD_APPLY_BYTES } from '../../src/store/off-process.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { storeEngines } from '../helpers/postgres.js';
import { KEPT_SAMPLES, emptyCounts } from '../../src/shadow/tally.js';
import { shadowDelta } from '../helpers/shadow.js';
import { startRollout } from '../../src/rollout/controller.js';
import { DEFAULT_ROLLOUT_PLAN } from '../../src/rollout/plan.js';
import type { RolloutRecord } from '../../src/rollout/rollout-store.js';

/**
 * The store contract: one suite, run against SQLite and PostgreSQL, through the Store interface
 * the admin API and the live table use. Same results, same versions, same history, same error
 * codes, and a failed write changes nothing. PostgreSQL is a throwaway cluster (helpers/postgres.ts),
 * or STRANGLER_TEST_PG_URL's server when given (a database is created there per test).
 */

const engines = storeEngines('the store contract suite');

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const logger = pino({ level: 'silent' });
const alice: ChangeMeta = { actor: 'alice' };

describe.each(engines)('the store contract on $name', ({ database }) => {
  let t = T0;
  let store: Store;
  let cleanup: () => void;
  let db: string;
  const open = () => openStore(db, { clock: { now: () => t }, logger });

  beforeEach(async () => {
    t = T0;
    const where = await database();
    db = where.db;
    cleanup = where.cleanup;
    store = await open();
    await store.backends.ensureDefaults({ legacy: { url: 'http://127.0.0.1:1' }, modern: { url: 'http://127.0.0.1:2' } }, { actor: 'serve' });
  });
  afterEach(async () => {
    await store.close();
    cleanup();
  });

  async function rejected(promise: Promise<unknown>, code: ErrorCode): Promise<GatewayError> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe(code);
    return err as GatewayError;
  }

  /** Everything a failed write must leave alone. */
  async function snapshot() {
    const routes = await store.list();
    const history = await Promise.all(routes.map((r) => store.history(r.id)));
    return { routes, history, backends: await store.backends.list(), feed: await store.feedPosition() };
  }

  it('creates with defaults and version 1, lists in prefix order, pages with a cursor', async () => {
    const created = await store.create({ pathPrefix: '/orders' }, alice);
    expect(created).toMatchObject({ id: 'orders', version: 1, mode: 'legacy', createdAt: new Date(T0).toISOString() });
    for (const p of ['/b', '/a/x', '/Z', '/a']) await store.create({ pathPrefix: p }, alice);
    // Byte order, as SQLite compares text: upper case before lower.
    expect((await store.list()).map((r) => r.pathPrefix)).toEqual(['/Z', '/a', '/a/x', '/b', '/orders']);
    const first = await store.page(2);
    expect(first.map((r) => r.pathPrefix)).toEqual(['/Z', '/a']);
    expect((await store.page(2, first.at(-1)!.pathPrefix)).map((r) => r.pathPrefix)).toEqual(['/a/x', '/b']);
    expect(await store.get('orders')).toEqual(created);
    expect(await store.get('nope')).toBeUndefined();
    // An id the prefix already gave someone gets a suffix.
    await store.delete('orders', alice);
    await store.create({ id: 'orders', pathPrefix: '/elsewhere' }, alice);
    expect((await store.create({ pathPrefix: '/orders' }, alice)).id).toBe('orders-2');
  });

  it('refuses duplicates with the same codes and writes nothing', async () => {
    await store.create({ id: 'orders', pathPrefix: '/orders' }, alice);
    const before = await snapshot();
    await rejected(store.create({ id: 'orders', pathPrefix: '/other' }, alice), 'DUPLICATE_ID');
    await rejected(store.create({ id: 'other', pathPrefix: '/orders' }, alice), 'DUPLICATE_PATH');
    await rejected(store.create({ pathPrefix: 'no-slash' }, alice), 'VALIDATION_FAILED');
    await rejected(store.create({ pathPrefix: '/x', legacyBackend: 'missing' }, alice), 'VALIDATION_FAILED');
    expect(await snapshot()).toEqual(before);
  });

  it('optimistic concurrency: an update at the wrong version is a 409 with the current version', async () => {
    await store.create({ id: 'orders', pathPrefix: '/orders' }, alice);
    t += 1000;
    const v2 = await store.update('orders', { mode: 'canary', canaryPercent: 10 }, { ...alice, expectedVersion: 1 });
    expect(v2).toMatchObject({ version: 2, mode: 'canary', canaryPercent: 10, updatedAt: new Date(T0 + 1000).toISOString() });
    const before = await snapshot();
    const err = await rejected(store.update('orders', { mode: 'modern' }, { ...alice, expectedVersion: 1 }), 'VERSION_CONFLICT');
    expect(err.details).toEqual({ currentVersion: 2 });
    await rejected(store.delete('orders', { ...alice, expectedVersion: 1 }), 'VERSION_CONFLICT');
    expect(await snapshot()).toEqual(before);
    // A change that changes nothing records nothing.
    expect(await store.update('orders', { mode: 'canary' }, alice)).toEqual(v2);
    await rejected(store.update('nope', { mode: 'modern' }, alice), 'ROUTE_NOT_FOUND');
  });

  it('history, rollback and a re-created id continuing its numbering', async () => {
    await store.create({ id: 'orders', pathPrefix: '/orders' }, alice);
    await store.update('orders', { mode: 'modern' }, { actor: 'bob', reason: 'go' }, 'flip');
    const back = await store.rollback('orders', undefined, alice);
    expect(back).toMatchObject({ version: 3, mode: 'legacy' });
    await rejected(store.rollback('orders', 7, alice), 'NO_PREVIOUS_VERSION');
    const history = await store.history('orders');
    expect(history.map((h) => [h.version, h.action, h.actor])).toEqual([
      [3, 'rollback', 'alice'],
      [2, 'flip', 'bob'],
      [1, 'create', 'alice'],
    ]);
    expect(history[1]).toMatchObject({ reason: 'go', before: { mode: 'legacy' }, after: { mode: 'modern' } });
    await store.delete('orders', alice);
    await rejected(store.rollback('orders', undefined, alice), 'ROUTE_NOT_FOUND');
    expect((await store.create({ id: 'orders', pathPrefix: '/orders' }, alice)).version).toBe(5);
    await rejected(store.history('never'), 'ROUTE_NOT_FOUND');
  });

  it('apply: a plan carried out in one transaction (a prefix swap included); a dry run and a failure write nothing', async () => {
    await store.create({ id: 'a', pathPrefix: '/a' }, alice);
    await store.create({ id: 'b', pathPrefix: '/b' }, alice);
    const spec = (id: string, pathPrefix: string, extra = {}) => desiredRoute(RouteSpec.parse({ id, pathPrefix, ...extra }));
    const file = [spec('a', '/b'), spec('b', '/a'), spec('c', '/c', { modernBackend: 'svc' })];
    const backends = [desiredBackend(BackendSpec.parse({ name: 'svc', url: 'http://127.0.0.1:3', role: 'modern' }))];

    const before = await snapshot();
    const dry = await store.apply(file, { prune: false, dryRun: true, backends }, alice);
    expect(dry.changes.map((c) => `${c.action} ${c.id}`)).toEqual(['update a', 'update b', 'create c']);
    expect(await snapshot()).toEqual(before);

    // One bad entry (a route on a backend nobody creates) and nothing at all is written.
    await rejected(store.apply([...file, spec('d', '/d', { legacyBackend: 'ghost' })], { prune: false, dryRun: false, backends }, alice), 'VALIDATION_FAILED');
    expect(await snapshot()).toEqual(before);

    const plan = await store.apply(file, { prune: true, dryRun: false, backends }, alice);
    expect(plan).toEqual(dry);
    expect((await store.list()).map((r) => `${r.id}${r.pathPrefix}@${r.version}`)).toEqual(['b/a@2', 'a/b@2', 'c/c@1']);
    expect((await store.backends.get('svc'))?.version).toBe(1);
    // The same file again plans and writes nothing.
    const again = await store.apply(file, { prune: true, dryRun: false, backends }, alice);
    expect(again.changes.every((c) => c.action === 'unchanged')).toBe(true);
    // The same bytes through applyFile, as POST /apply sends them.
    const outcome = await store.applyFile({ body: Buffer.from(JSON.stringify({ routes: [{ id: 'a', pathPrefix: '/b' }], prune: false })), meta: alice });
    expect(outcome.ok).toBe(true);
    const bad = await store.applyFile({ body: Buffer.from('{'), meta: alice });
    expect(bad).toMatchObject({ ok: false, code: 'INVALID_JSON' });
  });

  it('a route file over the in-thread size is applied by a child process with its own connection, and the store hears of it', async () => {
    let heard = 0;
    const off = store.onChange(() => heard++);
    const file = { routes: [{ id: 'w1', pathPrefix: '/w1' }, { id: 'w2', pathPrefix: '/w2' }], reason: 'from a worker' };
    // Whitespace after the document keeps it valid JSON and makes it large.
    const body = Buffer.from(JSON.stringify(file) + ' '.repeat(IN_THREAD_APPLY_BYTES));
    const outcome = await store.applyFile({ body, meta: alice });
    off();
    expect(outcome).toMatchObject({ ok: true, changed: { routes: 2, routeIds: ['w1', 'w2'] } });
    expect(heard).toBeGreaterThan(0);
    expect((await store.history('w2'))[0]).toMatchObject({ action: 'create', reason: 'from a worker', actor: 'alice' });
    const refused = await store.applyFile({ body: Buffer.from(JSON.stringify({ routes: [{ id: 'w3', pathPrefix: 'bad' }] }) + ' '.repeat(IN_THREAD_APPLY_BYTES)), meta: alice });
    expect(refused).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    expect(await store.get('w3')).toBeUndefined();
  });

  it('backends: CRUD with versions, the defaults kept, one in use refused', async () => {
    const svc = await store.backends.create({ name: 'svc', url: 'http://127.0.0.1:3', role: 'modern' }, alice);
    expect(svc).toMatchObject({ name: 'svc', version: 1, role: 'modern', maxInFlight: 256 });
    await rejected(store.backends.create({ name: 'svc', url: 'http://127.0.0.1:4' }, alice), 'DUPLICATE_BACKEND');
    expect(await store.backends.update('svc', { maxInFlight: 10 }, { ...alice, expectedVersion: 1 })).toMatchObject({ version: 2, maxInFlight: 10 });
    await rejected(store.backends.update('svc', { maxInFlight: 11 }, { ...alice, expectedVersion: 1 }), 'VERSION_CONFLICT');
    await store.create({ id: 'orders', pathPrefix: '/orders', modernBackend: 'svc' }, alice);
    expect(await store.backends.usedBy('svc')).toEqual(['orders']);
    await rejected(store.backends.delete('svc', alice), 'BACKEND_IN_USE');
    await rejected(store.backends.update('svc', { role: 'legacy' }, alice), 'BACKEND_IN_USE');
    await rejected(store.backends.delete('legacy', alice), 'BACKEND_REQUIRED');
    await rejected(store.backends.update('modern', { role: 'legacy' }, alice), 'BACKEND_REQUIRED');
    await store.update('orders', { modernBackend: 'modern' }, alice);
    await store.backends.delete('svc', alice);
    expect((await store.backends.history('svc')).map((h) => h.action)).toEqual(['delete', 'update', 'create']);
    await rejected(store.backends.get('svc').then((b) => (b === undefined ? Promise.reject(new GatewayError('BACKEND_NOT_FOUND')) : b)), 'BACKEND_NOT_FOUND');
    expect((await store.backends.list()).map((b) => b.name)).toEqual(['legacy', 'modern']);
  });

  it('the change feed numbers every change in commit order, without gaps, even past a failed write', async () => {
    const start = await store.feedPosition();
    await store.create({ id: 'a', pathPrefix: '/a' }, alice);
    await rejected(store.create({ id: 'a', pathPrefix: '/b' }, alice), 'DUPLICATE_ID');
    await rejected(store.apply([desiredRoute(RouteSpec.parse({ id: 'x', pathPrefix: '/x', legacyBackend: 'ghost' }))], { prune: false, dryRun: false }, alice), 'VALIDATION_FAILED');
    await store.create({ id: 'b', pathPrefix: '/b' }, alice);
    await store.update('a', { mode: 'modern' }, alice);
    const changes = await store.routeChanges(start.routes, 100);
    expect(changes).toEqual([
      { seq: start.routes + 1, routeId: 'a' },
      { seq: start.routes + 2, routeId: 'b' },
      { seq: start.routes + 3, routeId: 'a' },
    ]);
    expect((await store.feedPosition()).routes).toBe(start.routes + 3);
    const reader = new LiveRowReader();
    expect((await store.liveRoutes(['a', 'gone'], reader)).map((r) => r.id)).toEqual(['a']);
    expect((await store.liveRoutesPage('a', 10, reader)).map((r) => r.id)).toEqual(['b']);
    const stamp = await store.changeStamp();
    // A second connection sees the change; its stamp then moves past the one read before.
    const other = await open();
    await other.update('b', { mode: 'modern' }, alice);
    await other.close();
    expect(await store.changeStamp()).not.toBe(stamp);
  });

  it('opening again (or several at once) migrates once and keeps the data; health is ok', async () => {
    await store.create({ id: 'kept', pathPrefix: '/kept' }, alice);
    const others = await Promise.all([open(), open(), open()]);
    for (const o of others) expect(await o.get('kept')).toMatchObject({ version: 1 });
    await Promise.all(others.map((o) => o.close()));
    expect(store.health).toEqual({ state: 'ok' });
    expect(store.isOpen).toBe(true);
  });

  it('keeps a route in shadow mode with its settings, and shadow results that add up across flushes', async () => {
    const route = await store.create({ pathPrefix: '/stock', mode: 'shadow', shadow: { samplePercent: 50, ignorePaths: ['$.meta.id'] } }, alice);
    expect(route).toMatchObject({ mode: 'shadow', shadow: { samplePercent: 50, ignorePaths: ['$.meta.id'], maxInFlight: 32 } });
    const changed = await store.update('stock', { shadow: { noisePercent: 0 } }, alice);
    expect(changed.shadow).toMatchObject({ samplePercent: 50, noisePercent: 0 });
    expect(await store.get('stock')).toEqual(changed);

    const at = new Date(T0).toISOString();
    const delta = (mismatches: number, noise: string[]) => shadowDelta(at, mismatches, noise, '/stock');
    expect(await store.shadow.read('stock')).toEqual(emptyCounts());
    await store.shadow.flush(new Map([['stock', delta(KEPT_SAMPLES - 10, ['$.a'])]]));
    const noise = await store.shadow.flush(new Map([['stock', delta(20, ['$.b'])], ['other', delta(0, [])]]));
    expect(noise.get('stock')).toEqual(['$.a', '$.b']);
    const totals = await store.shadow.read('stock');
    expect(totals).toMatchObject({ since: at, compared: KEPT_SAMPLES + 12, matched: 2, mismatched: KEPT_SAMPLES + 10 });
    expect(totals.samples).toHaveLength(KEPT_SAMPLES);
    expect(totals.samples[0]!.path).toBe('/stock/19');
    expect((await store.shadow.summaries(['stock', 'none'])).get('stock')).toEqual({ compared: KEPT_SAMPLES + 12, matched: 2, mismatched: KEPT_SAMPLES + 10 });
    expect((await store.shadow.summaries([])).size).toBe(0);

    await store.shadow.clear('stock', new Date(T0 + 1).toISOString());
    expect(await store.shadow.read('stock')).toMatchObject({ compared: 0, samples: [], noise: ['$.a', '$.b'], since: new Date(T0 + 1).toISOString() });
  });

  it('keeps a route\'s stage (mode following it), retire delay and saved rollout plan; a retired route serves modern only', async () => {
    const plain = await store.create({ pathPrefix: '/a', mode: 'canary', canaryPercent: 5 }, alice);
    expect(plain).toMatchObject({ mode: 'canary', stage: 'canary', retireAfterMs: 7 * 86_400_000, rollout: null });
    const route = await store.create({ pathPrefix: '/b', stage: 'shadow', retireAfterMs: 1000, rollout: { steps: [10, 100], holdMs: 50 } }, alice);
    expect(route).toMatchObject({ mode: 'shadow', stage: 'shadow', retireAfterMs: 1000, rollout: { steps: [10, 100], holdMs: 50, checkMs: 10_000 } });
    expect(await store.get('b')).toEqual(route);
    const [live] = await store.liveRoutes(['b'], new LiveRowReader());
    expect(live).toEqual(route);

    const modern = await store.update('b', { stage: 'modern' }, alice, 'stage');
    expect(modern).toMatchObject({ mode: 'modern', stage: 'modern', version: 2 });
    expect((await store.update('b', { mode: 'canary' }, alice)).stage).toBe('canary');
    await rejected(store.update('b', { stage: 'retired' }, alice), 'VALIDATION_FAILED');
    const retired = await store.update('b', { stage: 'retired', resilience: { fallback: false } }, alice);
    expect(retired).toMatchObject({ mode: 'modern', stage: 'retired' });
    await rejected(store.update('b', { mode: 'legacy' }, alice), 'STAGE_RETIRED');
    await rejected(store.update('b', { resilience: { fallback: true } }, alice), 'VALIDATION_FAILED');
    await rejected(store.update('b', { stage: 'canary', mode: 'legacy' }, alice), 'VALIDATION_FAILED');
    const history = await store.history('b');
    expect(history.map((h) => [h.action, h.after?.stage])).toEqual([['update', 'retired'], ['update', 'canary'], ['stage', 'modern'], ['create', 'shadow']]);
    expect((await store.rollback('b', 1, alice)).stage).toBe('shadow');

    const plan = await store.apply([desiredRoute(RouteSpec.parse({ id: 'c', pathPrefix: '/c', stage: 'modern', rollout: { minRequests: 5 } }))], { prune: false, dryRun: false }, alice);
    expect(plan.changes).toHaveLength(1);
    expect(await store.get('c')).toMatchObject({ mode: 'modern', stage: 'modern', rollout: { minRequests: 5 } });
  });

  it('writes a rollout with its route change in one transaction, on the revision it read; leases and windows are shared', async () => {
    await store.create({ id: 'r', pathPrefix: '/r', stage: 'canary' }, alice);
    const started = startRollout(DEFAULT_ROLLOUT_PLAN, { stage: 'canary', shadow: null, force: false }, t);
    if (!('state' in started)) throw new Error('refused');
    const record: RolloutRecord = { routeId: 'r', state: started.state, version: 0, final: null, revision: 0, leader: 'gw-a', leaseUntil: t + 100 };
    const moved = await store.update('r', { canaryPercent: 1 }, { actor: 'rollout' }, 'rollout', { record, expectedRevision: null });
    const first = await store.rollouts.get('r');
    expect(first).toMatchObject({ version: moved.version, revision: 1, leader: 'gw-a', state: { status: 'running', percent: 1 } });
    expect((await store.rollouts.active()).map((r) => r.routeId)).toEqual(['r']);

    // A second start, and a move on a stale revision, change neither the route nor the rollout.
    const before = await snapshot();
    await rejected(store.update('r', { canaryPercent: 7 }, alice, 'rollout', { record, expectedRevision: null }), 'ROLLOUT_RUNNING');
    await rejected(store.update('r', { canaryPercent: 7 }, alice, 'rollout', { record: first!, expectedRevision: 0 }), 'VERSION_CONFLICT');
    expect(await snapshot()).toEqual(before);
    expect(await store.rollouts.get('r')).toEqual(first);

    // The state alone: on the revision read, once.
    const paused = { ...first!, state: { ...first!.state, status: 'paused' as const, pausedAt: t } };
    expect(await store.rollouts.save(paused)).toBe(true);
    expect(await store.rollouts.save(paused)).toBe(false);
    expect(await store.rollouts.get('r')).toMatchObject({ revision: 2, state: { status: 'paused' } });

    // The lease: held until it expires, then anyone's; renewed only by its holder.
    expect(await store.rollouts.claim('r', 'gw-b', t + 200, t + 50)).toBe(false);
    expect(await store.rollouts.claim('r', 'gw-a', t + 200, t + 50)).toBe(true);
    expect(await store.rollouts.claim('r', 'gw-b', t + 400, t + 200)).toBe(true);
    expect(await store.rollouts.get('r')).toMatchObject({ leader: 'gw-b', leaseUntil: t + 400 });

    // Each gateway's counts for a step, one row per gateway, replaced by its next publication.
    const counts = (n: number) => ({ legacy: { requests: n, failures: 0, latency: { 3: n } }, modern: { requests: 1, failures: 1, latency: { 9: 1 } } });
    await store.rollouts.publish('r', 'gw-a', moved.version, counts(1), t);
    await store.rollouts.publish('r', 'gw-a', moved.version, counts(4), t + 1);
    await store.rollouts.publish('r', 'gw-b', moved.version, counts(2), t);
    await store.rollouts.publish('r', 'gw-c', moved.version - 1, counts(9), t);
    const windows = (await store.rollouts.windows('r', moved.version)).sort((x, y) => x.gateway.localeCompare(y.gateway));
    expect(windows).toEqual([{ gateway: 'gw-a', counts: counts(4) }, { gateway: 'gw-b', counts: counts(2) }]);

    // Each route's latest fallback on any gateway: only ever raised.
    expect(await store.rollouts.lastFallbackAt('r')).toBeNull();
    await store.rollouts.noteFallbacks(new Map([['r', t + 10], ['s', t]]));
    await store.rollouts.noteFallbacks(new Map([['r', t + 5]]));
    expect([await store.rollouts.lastFallbackAt('r'), await store.rollouts.lastFallbackAt('s')]).toEqual([t + 10, t]);
  });


  it('outbox: a stage change writes exactly one event (and a delivery per webhook) in its transaction; a failed change writes none', async () => {
    const hook = 'http://hooks.example/a';
    await store.outbox.ensureWebhooks([hook], new Date(t).toISOString());
    await store.outbox.ensureWebhooks([hook], new Date(t).toISOString());
    expect((await store.outbox.webhooks()).map((w) => [w.url, w.source])).toEqual([[hook, 'flag']]);
    await rejected(store.outbox.addWebhook(hook, 'api', 'x'), 'DUPLICATE_WEBHOOK');

    await store.create({ pathPrefix: '/orders' }, alice);
    await store.update('orders', { canaryPercent: 5 }, alice);
    expect(await store.outbox.events({ undelivered: false, limit: 10 })).toEqual([]);
    const moved = await store.update('orders', { stage: 'shadow' }, { actor: 'alice', reason: 'try it' }, 'stage');
    // A change that fails (a stale version) writes no event.
    await rejected(store.update('orders', { stage: 'canary' }, { actor: 'bob', expectedVersion: 1 }, 'stage'), 'VERSION_CONFLICT');
    const events = await store.outbox.events({ undelivered: true, limit: 10 });
    expect(events.map((e) => e.event)).toEqual([
      expect.objectContaining({ kind: 'stage', routeId: 'orders', version: moved.version, fromStage: 'legacy', toStage: 'shadow', reason: 'try it', text: 'Route /orders: stage moved legacy → shadow (by alice): try it' }),
    ]);
    expect(events[0]!.event.deliveries).toEqual([{ url: hook, attempts: 0, deliveredAt: null, lastError: null, nextAttemptAt: new Date(t).toISOString() }]);
    expect(await store.outbox.undelivered()).toBe(1);

    // A change that fails mid-transaction (its second route's history row is refused) leaves no event of its first.
    await sql(db, FAIL_BOOM_HISTORY[db.startsWith('postgres') ? 'postgres' : 'sqlite']);
    const boom = [desiredRoute(RouteSpec.parse({ id: 'orders', pathPrefix: '/orders', stage: 'canary' })), desiredRoute(RouteSpec.parse({ id: 'boom', pathPrefix: '/boom' }))];
    await expect(store.apply(boom, { prune: false, dryRun: false }, alice)).rejects.toThrow(/boom/);
    expect((await store.outbox.events({ undelivered: false, limit: 10 })).map((e) => e.event.id)).toEqual([events[0]!.event.id]);
    expect((await store.get('orders'))?.stage).toBe('shadow');

    // An apply that moves a stage (the bulk path on PostgreSQL) and a delete past legacy give one each.
    await store.apply([desiredRoute(RouteSpec.parse({ id: 'orders', pathPrefix: '/orders', stage: 'canary', canaryPercent: 5 }))], { prune: false, dryRun: false }, alice);
    await store.delete('orders', alice);
    const all = (await store.outbox.events({ undelivered: false, limit: 10 })).map((e) => e.event);
    expect(all.map((e) => [e.fromStage, e.toStage])).toEqual([['canary', null], ['shadow', 'canary'], ['legacy', 'shadow']]);
    expect(new Set(all.map((e) => e.id)).size).toBe(3);
    // Pages, newest first.
    const first = await store.outbox.events({ undelivered: false, limit: 2 });
    expect((await store.outbox.events({ undelivered: false, limit: 2, before: first.at(-1)!.seq })).map((e) => e.event.id)).toEqual([all[2]!.id]);

    // Claimed once: a second claim at the same moment takes nothing; settled, it is delivered.
    const claimed = await store.outbox.claim(t, t + 30_000, 10, 'h:1');
    expect(claimed.map((c) => [c.event.id, c.url, c.attempts])).toEqual(expect.arrayContaining(all.map((e) => [e.id, hook, 0])));
    expect(await store.outbox.claim(t, t + 30_000, 10, 'h:1')).toEqual([]);
    expect(await store.outbox.claimants()).toEqual(['h:1']);
    // A dead claimant's claims are due again at once; settling clears the claim.
    await store.outbox.release('h:1', t);
    expect(await store.outbox.claimants()).toEqual([]);
    expect(await store.outbox.claim(t, t + 30_000, 10, 'h:2')).toHaveLength(3);
    await store.outbox.settle(all[0]!.id, hook, { delivered: false, attempts: 1, error: 'HTTP 503', nextAttemptAt: t + 1000 });
    for (const e of all.slice(1)) await store.outbox.settle(e.id, hook, { delivered: true, attempts: 1, at: t });
    const [pending] = await store.outbox.events({ undelivered: true, limit: 10 });
    expect(pending!.event.deliveries).toEqual([{ url: hook, attempts: 1, deliveredAt: null, lastError: 'HTTP 503', nextAttemptAt: new Date(t + 1000).toISOString() }]);
    expect(await store.outbox.claim(t + 999, t + 30_000, 10, 'h:1')).toEqual([]);
    expect(await store.outbox.claim(t + 1000, t + 30_000, 10, 'h:1')).toHaveLength(1);

    // Removing the webhook drops what it still had pending; a new one gets only later events.
    const [webhook] = await store.outbox.webhooks();
    await store.outbox.removeWebhook(webhook!.id);
    await rejected(store.outbox.removeWebhook(webhook!.id), 'WEBHOOK_NOT_FOUND');
    expect(await store.outbox.undelivered()).toBe(0);
    await store.outbox.addWebhook('https://hooks.example/b', 'api', new Date(t).toISOString());
    expect(await store.outbox.claim(t + 1000, t + 30_000, 10, 'h:1')).toEqual([]);
  });
});

/** A trigger refusing any history row of route `boom`, to fail a write halfway. */
const FAIL_BOOM_HISTORY = {
  sqlite: "CREATE TRIGGER boom BEFORE INSERT ON route_history WHEN NEW.route_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
  postgres: `CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.route_id = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER boom BEFORE INSERT ON route_history FOR EACH ROW EXECUTE FUNCTION boom()`,
};

/** One statement on the database itself, beside the store (a SQLite path or a PostgreSQL URL). */
async function sql(db: string, statement: string): Promise<void> {
  if (!db.startsWith('postgres')) {
    const file = new Database(db);
    file.exec(statement);
    file.close();
    return;
  }
  const client = new pg.Client({ connectionString: db });
  await client.connect();
  await client.query(statement).finally(() => client.end());
}

describe.runIf(engines.length === 2)('the same route files on both engines', () => {
  const IDS = ['a', 'b', 'c', 'd', 'e'];
  const PREFIXES = ['/a', '/a/b', '/b', '/c', '/d', '/e', '/f'];
  const file = fc.record({
    routes: fc.uniqueArray(
      fc.record({ id: fc.constantFrom(...IDS), pathPrefix: fc.constantFrom(...PREFIXES), mode: fc.constantFrom('legacy', 'canary', 'modern'), canaryPercent: fc.integer({ min: 0, max: 100 }) }),
      { selector: (r) => r.id, maxLength: 5 },
    ),
    prune: fc.boolean(),
    dryRun: fc.boolean(),
  });

  it('give the same plans, errors, tables and history (creates, updates, prefix swaps, prunes, re-creates)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(file, { minLength: 1, maxLength: 6 }), async (files) => {
        const stores: Store[] = [];
        try {
          for (const engine of engines) {
            const where = await engine.database();
            const store = await openStore(where.db, { clock: { now: () => T0 }, logger });
            stores.push(store);
            await store.backends.ensureDefaults({ legacy: { url: 'http://127.0.0.1:1' }, modern: { url: 'http://127.0.0.1:2' } }, { actor: 'serve' });
          }
          for (const f of files) {
            const desired = f.routes.map((r) => desiredRoute(RouteSpec.parse(r)));
            const results = await Promise.all(
              stores.map((s) =>
                s.apply(desired, { prune: f.prune, dryRun: f.dryRun }, alice).then(
                  (plan) => ({ plan }),
                  (err: GatewayError) => ({ error: err.code }),
                ),
              ),
            );
            expect(results[1]).toEqual(results[0]);
          }
          const contents = await Promise.all(
            stores.map(async (s) => {
              const routes = await s.list();
              const feed = await s.routeChanges(0, 10_000);
              return { routes, feed, history: await Promise.all([...new Set(feed.map((c) => c.routeId))].map((id) => s.history(id))) };
            }),
          );
          expect(contents[1]).toEqual(contents[0]);
        } finally {
          await Promise.all(stores.map((s) => s.close()));
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 15) },
    );
  }, 120_000);
});
