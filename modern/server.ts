/**
 * The demo modern service: where routes are migrated to. It implements orders and users (not
 * the catalog, which is still legacy-only) in a newer shape (`apiVersion: 2`, camelCase, string
 * ids, money as an object), and stock in legacy's own shape (demo/stock.ts: the shadow-mode example).
 *
 * It can fail on demand, so the demo can show canaries, fallback and rollback reacting:
 *   POST /__chaos {"failRate":0..1,"delayMs":ms,"status":4xx|5xx}  change the given settings
 *   GET /__chaos                                                    show them
 *   DELETE /__chaos                                                 back to the startup settings
 *   x-chaos-delay-ms: <ms> / x-chaos-fail: <status>                 for one request only
 *   POST / DELETE /__stock-fix                                      deploy the fix of the stock bug / take it back
 * Startup settings come from CHAOS_FAIL_RATE and CHAOS_DELAY_MS (default: no chaos).
 *
 * Run directly: `PORT=3002 HOST=127.0.0.1 tsx modern/server.ts` (or node on the built dist/).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createHandler,
  createRouter,
  echoHandler,
  isDirectRun,
  itemHandler,
  listenFromEnv,
  listHandler,
  parseJson,
  readBody,
  sendJson,
  type Backend,
  type Handler,
  type Route,
} from '../demo/http-helpers.js';
import { legacyAvailable, modernAvailable, stockHandler, type StockItem } from '../demo/stock.js';

const MODERN: Backend = { servedBy: 'modern', extra: { apiVersion: 2 } };

const ORDERS = [
  { id: '1001', customerId: '1', status: 'shipped', total: { amount: 42.5, currency: 'EUR' } },
  { id: '1002', customerId: '2', status: 'pending', total: { amount: 12.99, currency: 'EUR' } },
  { id: '1003', customerId: '1', status: 'cancelled', total: { amount: 8.3, currency: 'EUR' } },
] as const;

const USERS = [
  { id: '1', handle: 'ada', name: 'Ada Lovelace', email: 'ada@example.com' },
  { id: '2', handle: 'grace', name: 'Grace Hopper', email: 'grace@example.com' },
  { id: '3', handle: 'alan', name: 'Alan Turing', email: 'alan@example.com' },
] as const;

export interface ChaosSettings {
  /** Share of requests, 0..1, that fail with `status`. */
  failRate: number;
  /** Added before every answer, failures included (slow failures are what timeouts are for). */
  delayMs: number;
  /** The status injected failures answer with. */
  status: number;
}

const NO_CHAOS: ChaosSettings = { failRate: 0, delayMs: 0, status: 503 };

/** A minute is plenty to trip any gateway timeout; more would only leave sockets hanging. */
const MAX_DELAY_MS = 60_000;

type Check = (value: unknown) => string | undefined;

function numberIn(name: string, min: number, max: number, integer: boolean): Check {
  const kind = integer ? 'an integer' : 'a number';
  return (value) => {
    const ok = typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value));
    return ok ? undefined : `${name} must be ${kind} from ${min} to ${max}`;
  };
}

const CHECKS: Record<keyof ChaosSettings, Check> = {
  failRate: numberIn('failRate', 0, 1, false),
  delayMs: numberIn('delayMs', 0, MAX_DELAY_MS, false),
  // Only error statuses: "injecting" a 200 or a redirect would not be a failure.
  status: numberIn('status', 400, 599, true),
};

type Validated<T> = { ok: true; value: T } | { ok: false; message: string };

function isSettingName(key: string): key is keyof ChaosSettings {
  return Object.hasOwn(CHECKS, key);
}

/** Checks a control body; unknown fields are refused so a typo ("failrate") is not silently ignored. */
export function validateChaosUpdate(body: unknown): Validated<Partial<ChaosSettings>> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'body must be a JSON object' };
  }
  const update: Partial<ChaosSettings> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!isSettingName(key)) return { ok: false, message: `unknown field "${key}"; expected failRate, delayMs or status` };
    const problem = CHECKS[key](value);
    if (problem !== undefined) return { ok: false, message: problem };
    update[key] = value as number;
  }
  return { ok: true, value: update };
}

/** Startup settings; a bad value stops the server rather than quietly running without chaos. */
export function chaosFromEnv(env: NodeJS.ProcessEnv): ChaosSettings {
  const fromEnv: Record<string, unknown> = {};
  if (env.CHAOS_FAIL_RATE) fromEnv.failRate = Number(env.CHAOS_FAIL_RATE);
  if (env.CHAOS_DELAY_MS) fromEnv.delayMs = Number(env.CHAOS_DELAY_MS);
  const result = validateChaosUpdate(fromEnv);
  if (!result.ok) throw new Error(`invalid CHAOS_FAIL_RATE / CHAOS_DELAY_MS: ${result.message}`);
  return { ...NO_CHAOS, ...result.value };
}

function sendValidationFailed(res: ServerResponse, message: string): void {
  sendJson(res, 400, { error: { code: 'VALIDATION_FAILED', message } });
}

/** What happens to one request: settings, then the per-request headers on top. */
interface ChaosPlan {
  delayMs: number;
  failStatus: number | undefined;
}

function headerNumber(req: IncomingMessage, name: string, check: Check): Validated<number | undefined> {
  const raw = req.headers[name];
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (text === undefined) return { ok: true, value: undefined };
  const value = text.trim() === '' ? Number.NaN : Number(text);
  const problem = check(value);
  return problem === undefined ? { ok: true, value } : { ok: false, message: `header ${name}: ${problem}` };
}

function planRequest(req: IncomingMessage, settings: ChaosSettings): Validated<ChaosPlan> {
  const delay = headerNumber(req, 'x-chaos-delay-ms', numberIn('delay', 0, MAX_DELAY_MS, false));
  if (!delay.ok) return delay;
  const fail = headerNumber(req, 'x-chaos-fail', numberIn('status', 400, 599, true));
  if (!fail.ok) return fail;
  // Math.random() is in [0, 1): failRate 0 never fails, failRate 1 always does.
  const randomFailure = Math.random() < settings.failRate ? settings.status : undefined;
  return { ok: true, value: { delayMs: delay.value ?? settings.delayMs, failStatus: fail.value ?? randomFailure } };
}

/** Wraps a handler so it is delayed and/or fails as the chaos settings and headers say. */
function withChaos(chaos: { settings: ChaosSettings }, handler: Handler): Handler {
  return async (ctx) => {
    const plan = planRequest(ctx.req, chaos.settings);
    if (!plan.ok) {
      sendValidationFailed(ctx.res, plan.message);
      return;
    }
    if (plan.value.delayMs > 0) await sleep(plan.value.delayMs);
    if (plan.value.failStatus !== undefined) {
      sendJson(ctx.res, plan.value.failStatus, { servedBy: 'modern', error: 'injected failure' });
      return;
    }
    await handler(ctx);
  };
}

/** GET, POST and DELETE /__chaos. They are never subject to chaos themselves, so the demo can always recover. */
function chaosControlRoutes(chaos: { settings: ChaosSettings }, initial: ChaosSettings): Route[] {
  const show: Handler = (ctx) => sendJson(ctx.res, 200, { servedBy: 'modern', chaos: chaos.settings });
  const update: Handler = async (ctx) => {
    const parsed = parseJson(await readBody(ctx.req));
    if (!parsed.ok) {
      sendValidationFailed(ctx.res, 'body is not valid JSON');
      return;
    }
    const result = validateChaosUpdate(parsed.value);
    if (!result.ok) {
      sendValidationFailed(ctx.res, result.message);
      return;
    }
    // Fields left out keep their value, so failRate and delayMs can be dialled separately.
    chaos.settings = { ...chaos.settings, ...result.value };
    show(ctx);
  };
  const reset: Handler = (ctx) => {
    chaos.settings = initial;
    show(ctx);
  };
  return [
    { method: 'GET', pattern: '/__chaos', handler: show },
    { method: 'POST', pattern: '/__chaos', handler: update },
    { method: 'DELETE', pattern: '/__chaos', handler: reset },
  ];
}

/**
 * POST and DELETE /__stock-fix: "deploys" modern's fix of the stock bug (demo/stock.ts), or
 * takes it back, so the rollout walk-through can show shadow mode finding the bug and then a
 * clean match. Never subject to chaos.
 */
function stockFixRoutes(release: { stockFixed: boolean }): Route[] {
  const set = (fixed: boolean): Handler => (ctx) => {
    release.stockFixed = fixed;
    sendJson(ctx.res, 200, { servedBy: 'modern', stockFixed: fixed });
  };
  return [
    { method: 'POST', pattern: '/__stock-fix', handler: set(true) },
    { method: 'DELETE', pattern: '/__stock-fix', handler: set(false) },
  ];
}

function serviceRoutes(self: Backend, release: { stockFixed: boolean }): Route[] {
  // Per server, so each test's server numbers its new orders from the start.
  let nextOrderId = 5001;
  const available = (item: StockItem) => (release.stockFixed ? legacyAvailable(item) : modernAvailable(item));
  const newOrder = (received: unknown) => ({ id: String(nextOrderId++), status: 'created', received });
  return [
    { method: 'GET', pattern: '/orders', handler: listHandler(self, 'orders', ORDERS) },
    { method: 'POST', pattern: '/orders', handler: createHandler(self, 'order', newOrder) },
    { method: 'GET', pattern: '/orders/:id', handler: itemHandler(self, 'order', ORDERS, (o) => o.id) },
    { method: 'GET', pattern: '/users', handler: listHandler(self, 'users', USERS) },
    { method: 'GET', pattern: '/users/:id', handler: itemHandler(self, 'user', USERS, (u) => u.id) },
    { method: 'GET', pattern: '/stock/:sku', handler: stockHandler(self, available) },
    { method: '*', pattern: '/echo/*', handler: echoHandler(self) },
  ];
}

/**
 * The modern demo server, not yet listening; `servedBy` names it in its answers (a second
 * instance plays another service). Chaos starts from `env` (CHAOS_FAIL_RATE,
 * CHAOS_DELAY_MS); throws if those are invalid.
 */
export function createModernServer(env: NodeJS.ProcessEnv = process.env, servedBy = MODERN.servedBy): Server {
  const initial = chaosFromEnv(env);
  const chaos = { settings: initial };
  const self: Backend = { ...MODERN, servedBy };
  const release = { stockFixed: false };
  const routes = serviceRoutes(self, release).map((route) => ({ ...route, handler: withChaos(chaos, route.handler) }));
  return createServer(createRouter(self, [...chaosControlRoutes(chaos, initial), ...stockFixRoutes(release), ...routes]));
}

if (isDirectRun(import.meta.url)) {
  listenFromEnv(createModernServer(), 'modern', 3002);
}
