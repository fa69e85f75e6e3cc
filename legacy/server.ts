/**
 * The demo legacy monolith: the system being strangled. It answers every endpoint the gateway
 * will migrate, in a deliberately old-fashioned shape (snake_case, integer cents, upper-case
 * statuses) so a glance at a response shows whether legacy or modern served it.
 *
 * Run directly: `PORT=3001 HOST=127.0.0.1 tsx legacy/server.ts` (or node on the built dist/).
 */
import { createServer, type Server } from 'node:http';
import {
  createHandler,
  createRouter,
  echoHandler,
  envelope,
  isDirectRun,
  itemHandler,
  listenFromEnv,
  listHandler,
  sendJson,
  type Backend,
  type Handler,
  type Route,
} from '../demo/http-helpers.js';
import { legacyAvailable, stockHandler } from '../demo/stock.js';

const LEGACY: Backend = { servedBy: 'legacy' };

const ORDERS = [
  { order_id: 1001, customer_id: 1, status: 'SHIPPED', total_cents: 4250, currency: 'EUR' },
  { order_id: 1002, customer_id: 2, status: 'PENDING', total_cents: 1299, currency: 'EUR' },
  { order_id: 1003, customer_id: 1, status: 'CANCELLED', total_cents: 830, currency: 'EUR' },
] as const;

const USERS = [
  { user_id: 1, login: 'ada', full_name: 'Ada Lovelace', email_addr: 'ada@example.com' },
  { user_id: 2, login: 'grace', full_name: 'Grace Hopper', email_addr: 'grace@example.com' },
  { user_id: 3, login: 'alan', full_name: 'Alan Turing', email_addr: 'alan@example.com' },
] as const;

const PRODUCTS = [
  { product_id: 1, sku: 'TEA-001', title: 'Green tea, 100 g', price_cents: 450, in_stock: 'Y' },
  { product_id: 2, sku: 'MUG-002', title: 'Enamel mug', price_cents: 1299, in_stock: 'Y' },
  { product_id: 3, sku: 'KTL-003', title: 'Kettle', price_cents: 3800, in_stock: 'N' },
] as const;

const ENDPOINTS = [
  'GET /',
  'GET /orders',
  'GET /orders/:id',
  'POST /orders',
  'GET /users',
  'GET /users/:id',
  'GET /catalog',
  'GET /catalog/:id',
  'GET /stock/:sku',
  '* /echo[/...]',
];

function indexHandler(): Handler {
  return (ctx) => sendJson(ctx.res, 200, { ...envelope(LEGACY, ctx), service: 'legacy monolith (demo)', endpoints: ENDPOINTS });
}

function legacyRoutes(): Route[] {
  // Per server, so each test's server numbers its new orders from the start.
  let nextOrderId = 2001;
  const newOrder = (received: unknown) => ({ order_id: nextOrderId++, status: 'NEW', received });
  return [
    { method: 'GET', pattern: '/', handler: indexHandler() },
    { method: 'GET', pattern: '/orders', handler: listHandler(LEGACY, 'orders', ORDERS) },
    { method: 'POST', pattern: '/orders', handler: createHandler(LEGACY, 'order', newOrder) },
    { method: 'GET', pattern: '/orders/:id', handler: itemHandler(LEGACY, 'order', ORDERS, (o) => o.order_id) },
    { method: 'GET', pattern: '/users', handler: listHandler(LEGACY, 'users', USERS) },
    { method: 'GET', pattern: '/users/:id', handler: itemHandler(LEGACY, 'user', USERS, (u) => u.user_id) },
    { method: 'GET', pattern: '/catalog', handler: listHandler(LEGACY, 'products', PRODUCTS) },
    { method: 'GET', pattern: '/catalog/:id', handler: itemHandler(LEGACY, 'product', PRODUCTS, (p) => p.product_id) },
    { method: 'GET', pattern: '/stock/:sku', handler: stockHandler(LEGACY, legacyAvailable) },
    { method: '*', pattern: '/echo/*', handler: echoHandler(LEGACY) },
  ];
}

/** The legacy demo server, not yet listening. */
export function createLegacyServer(): Server {
  return createServer(createRouter(LEGACY, legacyRoutes()));
}

if (isDirectRun(import.meta.url)) {
  listenFromEnv(createLegacyServer(), 'legacy', 3001);
}
