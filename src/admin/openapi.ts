import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ERRORS, ErrorBody, type ErrorCode } from '../errors.js';
import { MigrationStatus } from '../observe/status.js';
import { ApplyResult } from '../routing/plan.js';
import { ApplyRequest } from '../routing/route-file.js';
import {
  HistoryEntry,
  Route,
  RouteCreate,
  RouteDelete,
  RouteFlip,
  RoutePatch,
  RouteRollback,
  RouteStageMove,
} from '../routing/schema.js';
import { BackendCreate, BackendDelete, BackendHistoryEntry, BackendPatch, BackendView } from '../backends/schema.js';
import { BreakerView } from './breakers.js';
import { DEFAULT_PAGE, MAX_PAGE } from './paging.js';
import { renderDocsPage } from './docs-page.js';
import { Healthz, Readyz } from './health.js';
import { ShadowReport } from '../shadow/report.js';
import { RolloutView } from '../rollout/view.js';
import { RolloutStart } from './rollout.js';
import { DEFAULT_EVENTS_PAGE } from './outbox.js';
import { EventView } from '../outbox/outbox-store.js';
import { Webhook, WebhookCreate } from '../outbox/webhook.js';

/**
 * Every schema the document names, with the side of the wire it describes: `input` schemas
 * show defaulted fields as optional, `output` schemas show them as always present.
 */
const SCHEMAS = {
  Route: [Route, 'output'],
  RouteList: [z.object({ routes: z.array(Route), next: z.string().nullable() }), 'output'],
  RouteCreate: [RouteCreate, 'input'],
  RoutePatch: [RoutePatch, 'input'],
  RouteFlip: [RouteFlip, 'input'],
  RouteStageMove: [RouteStageMove, 'input'],
  RolloutStart: [RolloutStart, 'input'],
  Rollout: [RolloutView, 'output'],
  RouteRollback: [RouteRollback, 'input'],
  RouteDelete: [RouteDelete, 'input'],
  History: [z.object({ history: z.array(HistoryEntry) }), 'output'],
  ShadowReport: [ShadowReport, 'output'],
  Backend: [BackendView, 'output'],
  BackendList: [z.object({ backends: z.array(BackendView) }), 'output'],
  BackendCreate: [BackendCreate, 'input'],
  BackendPatch: [BackendPatch, 'input'],
  BackendDelete: [BackendDelete, 'input'],
  BackendHistory: [z.object({ history: z.array(BackendHistoryEntry) }), 'output'],
  ApplyRequest: [ApplyRequest, 'input'],
  ApplyResult: [ApplyResult, 'output'],
  Webhook: [Webhook, 'output'],
  WebhookList: [z.object({ webhooks: z.array(Webhook) }), 'output'],
  WebhookCreate: [WebhookCreate, 'input'],
  EventList: [z.object({ events: z.array(EventView), next: z.string().nullable() }), 'output'],
  Breaker: [BreakerView, 'output'],
  BreakerList: [z.object({ breakers: z.array(BreakerView), next: z.string().nullable() }), 'output'],
  Healthz: [Healthz, 'output'],
  Readyz: [Readyz, 'output'],
  Status: [MigrationStatus, 'output'],
  Error: [ErrorBody, 'output'],
} as const satisfies Record<string, readonly [z.ZodType, 'input' | 'output']>;

type SchemaName = keyof typeof SCHEMAS;

interface Endpoint {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** The path as fastify registers it (`/routes/:id`). */
  path: string;
  summary: string;
  /** Open without a bearer token. */
  open?: boolean;
  /** A list answered a page at a time (`?limit=&after=`, see admin/paging.ts). */
  paged?: boolean;
  /** A change: takes X-Actor, and If-Match when `versioned`. */
  change?: { versioned: boolean };
  body?: { schema: SchemaName; required: boolean };
  ok: { status: number; description: string; schema?: SchemaName; type?: string };
  errors: ErrorCode[];
}

const ROUTE_ERRORS: ErrorCode[] = ['VALIDATION_FAILED', 'UNAUTHORIZED', 'ROUTE_NOT_FOUND'];
const CHANGE_ERRORS: ErrorCode[] = [...ROUTE_ERRORS, 'INVALID_JSON', 'VERSION_CONFLICT', 'UNSUPPORTED_MEDIA_TYPE'];
const BACKEND_ERRORS: ErrorCode[] = ['VALIDATION_FAILED', 'UNAUTHORIZED', 'BACKEND_NOT_FOUND'];
const BACKEND_CHANGE_ERRORS: ErrorCode[] = [...BACKEND_ERRORS, 'INVALID_JSON', 'VERSION_CONFLICT', 'UNSUPPORTED_MEDIA_TYPE'];

/** The admin API, endpoint by endpoint; the test checks every registered route is here. */
export const ENDPOINTS: readonly Endpoint[] = [
  { method: 'get', path: '/routes', paged: true, summary: 'List the routes, ordered by path prefix, a page at a time', ok: { status: 200, description: 'The routes', schema: 'RouteList' }, errors: ['VALIDATION_FAILED', 'UNAUTHORIZED'] },
  {
    method: 'post',
    path: '/routes',
    summary: 'Create a route',
    change: { versioned: false },
    body: { schema: 'RouteCreate', required: true },
    ok: { status: 201, description: 'The new route (Location and ETag headers)', schema: 'Route' },
    errors: ['VALIDATION_FAILED', 'INVALID_JSON', 'UNAUTHORIZED', 'DUPLICATE_ID', 'DUPLICATE_PATH', 'UNSUPPORTED_MEDIA_TYPE'],
  },
  { method: 'get', path: '/routes/:id', summary: 'Read one route (ETag: its version)', ok: { status: 200, description: 'The route', schema: 'Route' }, errors: ROUTE_ERRORS },
  {
    method: 'patch',
    path: '/routes/:id',
    summary: 'Change some settings; a change that changes nothing makes no new version',
    change: { versioned: true },
    body: { schema: 'RoutePatch', required: true },
    ok: { status: 200, description: 'The route', schema: 'Route' },
    errors: [...CHANGE_ERRORS, 'DUPLICATE_PATH'],
  },
  {
    method: 'delete',
    path: '/routes/:id',
    summary: 'Delete a route (its history stays)',
    change: { versioned: true },
    body: { schema: 'RouteDelete', required: false },
    ok: { status: 204, description: 'Deleted' },
    errors: CHANGE_ERRORS,
  },
  {
    method: 'post',
    path: '/routes/:id/stage',
    summary: 'Move the route along its lifecycle (legacy → shadow → canary → modern → retired): forward one stage at a time, back freely, out of retired and past a stage with force; retired only after retireAfterMs in modern with no fallback for a day',
    change: { versioned: true },
    body: { schema: 'RouteStageMove', required: true },
    ok: { status: 200, description: 'The route', schema: 'Route' },
    errors: [...CHANGE_ERRORS, 'STAGE_SKIPPED', 'STAGE_RETIRED', 'RETIRE_TOO_EARLY'],
  },
  {
    method: 'post',
    path: '/routes/:id/rollout',
    summary: 'Start a progressive rollout, driven by whichever gateway holds its lease (the plan given, else the route\'s saved one): from shadow (with a good enough match rate), canary, or legacy with force',
    body: { schema: 'RolloutStart', required: false },
    ok: { status: 200, description: 'The rollout', schema: 'Rollout' },
    errors: ['VALIDATION_FAILED', 'INVALID_JSON', 'UNAUTHORIZED', 'ROUTE_NOT_FOUND', 'ROLLOUT_NOT_READY', 'ROLLOUT_RUNNING', 'UNSUPPORTED_MEDIA_TYPE'],
  },
  { method: 'get', path: '/routes/:id/rollout', summary: 'The rollout: step, percent, since, both sides\' window figures over every gateway, the verdict and why, the leader', ok: { status: 200, description: 'The rollout', schema: 'Rollout' }, errors: ['UNAUTHORIZED', 'ROUTE_NOT_FOUND', 'ROLLOUT_NOT_FOUND'] },
  ...(['pause', 'resume', 'abort'] as const).map((action) => ({
    method: 'post' as const,
    path: `/routes/:id/rollout/${action}`,
    summary: { pause: 'Hold the current step until resume', resume: 'Continue the paused step (the time paused does not count toward its hold)', abort: 'Stop the rollout and return the route to legacy' }[action],
    ok: { status: 200, description: 'The rollout', schema: 'Rollout' as const },
    errors: ['UNAUTHORIZED', 'ROUTE_NOT_FOUND', 'ROLLOUT_NOT_FOUND', 'ROLLOUT_NOT_RUNNING', 'VERSION_CONFLICT'] as ErrorCode[],
  })),
  {
    method: 'post',
    path: '/routes/:id/flip',
    summary: 'Send all of the route to legacy or to modern in one call',
    change: { versioned: true },
    body: { schema: 'RouteFlip', required: true },
    ok: { status: 200, description: 'The route', schema: 'Route' },
    errors: CHANGE_ERRORS,
  },
  {
    method: 'post',
    path: '/routes/:id/rollback',
    summary: 'Restore the settings of an earlier version (default: the one before) as a new version',
    change: { versioned: true },
    body: { schema: 'RouteRollback', required: false },
    ok: { status: 200, description: 'The route', schema: 'Route' },
    errors: [...CHANGE_ERRORS, 'NO_PREVIOUS_VERSION'],
  },
  { method: 'get', path: '/routes/:id/history', summary: 'Every version of a route, newest first', ok: { status: 200, description: 'The history', schema: 'History' }, errors: ROUTE_ERRORS },
  {
    method: 'get',
    path: '/routes/:id/shadow',
    summary: 'What shadow mode found on the route: counts, match rate, latencies, the paths that differ most, the newest mismatch samples',
    ok: { status: 200, description: 'The shadow results (zero counts for a route that never ran shadow)', schema: 'ShadowReport' },
    errors: ['UNAUTHORIZED', 'ROUTE_NOT_FOUND'],
  },
  {
    method: 'delete',
    path: '/routes/:id/shadow',
    summary: "Clear the route's shadow counts and samples (learnt noise stays)",
    change: { versioned: false },
    ok: { status: 204, description: 'Cleared' },
    errors: ['UNAUTHORIZED', 'ROUTE_NOT_FOUND'],
  },
  { method: 'get', path: '/backends', summary: 'List the named backends, with requests in flight and the routes using each', ok: { status: 200, description: 'The backends', schema: 'BackendList' }, errors: ['UNAUTHORIZED'] },
  {
    method: 'post',
    path: '/backends',
    summary: 'Create a backend (a service routes can send one side to)',
    change: { versioned: false },
    body: { schema: 'BackendCreate', required: true },
    ok: { status: 201, description: 'The new backend (Location and ETag headers)', schema: 'Backend' },
    errors: ['VALIDATION_FAILED', 'INVALID_JSON', 'UNAUTHORIZED', 'DUPLICATE_BACKEND', 'UNSUPPORTED_MEDIA_TYPE'],
  },
  { method: 'get', path: '/backends/:name', summary: 'Read one backend (ETag: its version)', ok: { status: 200, description: 'The backend', schema: 'Backend' }, errors: BACKEND_ERRORS },
  {
    method: 'patch',
    path: '/backends/:name',
    summary: 'Change some settings; live at once, a URL change drains the old pool',
    change: { versioned: true },
    body: { schema: 'BackendPatch', required: true },
    ok: { status: 200, description: 'The backend', schema: 'Backend' },
    errors: [...BACKEND_CHANGE_ERRORS, 'BACKEND_IN_USE'],
  },
  {
    method: 'delete',
    path: '/backends/:name',
    summary: 'Delete a backend no route uses (the two defaults stay)',
    change: { versioned: true },
    body: { schema: 'BackendDelete', required: false },
    ok: { status: 204, description: 'Deleted' },
    errors: [...BACKEND_CHANGE_ERRORS, 'BACKEND_IN_USE', 'BACKEND_REQUIRED'],
  },
  { method: 'get', path: '/backends/:name/history', summary: 'Every version of a backend, newest first', ok: { status: 200, description: 'The history', schema: 'BackendHistory' }, errors: BACKEND_ERRORS },
  {
    method: 'post',
    path: '/apply',
    summary: 'Make the route table match a route file, in one transaction (all or nothing)',
    change: { versioned: false },
    body: { schema: 'ApplyRequest', required: true },
    ok: { status: 200, description: 'The plan, carried out unless dryRun', schema: 'ApplyResult' },
    errors: ['VALIDATION_FAILED', 'INVALID_JSON', 'UNAUTHORIZED', 'DUPLICATE_PATH', 'BACKEND_IN_USE', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'],
  },
  { method: 'get', path: '/webhooks', summary: 'The webhooks lifecycle events are posted to (--webhook URLs and those added here)', ok: { status: 200, description: 'The webhooks', schema: 'WebhookList' }, errors: ['UNAUTHORIZED'] },
  {
    method: 'post',
    path: '/webhooks',
    summary: 'Add a webhook: every later stage change and rollout move is posted to it (Idempotency-Key: the event id), retried until it answers 2xx',
    body: { schema: 'WebhookCreate', required: true },
    ok: { status: 201, description: 'The webhook (Location header)', schema: 'Webhook' },
    errors: ['VALIDATION_FAILED', 'INVALID_JSON', 'UNAUTHORIZED', 'DUPLICATE_WEBHOOK', 'UNSUPPORTED_MEDIA_TYPE'],
  },
  { method: 'delete', path: '/webhooks/:id', summary: 'Remove a webhook; its pending deliveries are dropped', ok: { status: 204, description: 'Removed' }, errors: ['UNAUTHORIZED', 'WEBHOOK_NOT_FOUND'] },
  {
    method: 'get',
    path: '/events',
    paged: true,
    summary: `Lifecycle events (stage changes, rollout moves), newest first, each with its delivery to every webhook; ?undelivered=true: only those some webhook has not received (default page ${DEFAULT_EVENTS_PAGE})`,
    ok: { status: 200, description: 'The events', schema: 'EventList' },
    errors: ['VALIDATION_FAILED', 'UNAUTHORIZED'],
  },
  { method: 'get', path: '/breakers', paged: true, summary: "Every route's modern-side circuit breaker, a page at a time", ok: { status: 200, description: 'The breakers', schema: 'BreakerList' }, errors: ['VALIDATION_FAILED', 'UNAUTHORIZED'] },
  {
    method: 'post',
    path: '/breakers/:routeId/reset',
    summary: "Close a route's breaker by hand",
    change: { versioned: false },
    ok: { status: 200, description: 'The breaker', schema: 'Breaker' },
    errors: ['UNAUTHORIZED', 'ROUTE_NOT_FOUND'],
  },
  { method: 'get', path: '/status', paged: true, summary: 'The migration at a glance: per route (a page at a time), traffic and errors by backend', ok: { status: 200, description: 'The status', schema: 'Status' }, errors: ['VALIDATION_FAILED', 'UNAUTHORIZED'] },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', ok: { status: 200, description: 'Prometheus text exposition format', type: 'text/plain' }, errors: ['UNAUTHORIZED'] },
  { method: 'get', path: '/healthz', summary: 'Liveness probe', open: true, ok: { status: 200, description: 'The process runs', schema: 'Healthz' }, errors: [] },
  { method: 'get', path: '/readyz', summary: 'Readiness probe', open: true, ok: { status: 200, description: 'Ready for traffic', schema: 'Readyz' }, errors: ['NOT_READY'] },
  { method: 'get', path: '/openapi.json', summary: 'This document', open: true, ok: { status: 200, description: 'The OpenAPI 3.1 document', type: 'application/json' }, errors: [] },
  { method: 'get', path: '/docs', summary: 'This document as a web page', open: true, ok: { status: 200, description: 'An HTML page', type: 'text/html' }, errors: [] },
];

/** `/routes/:id` → `/routes/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, '{$1}');
}

/** The OpenAPI 3.1 document of the admin API, generated from the zod schemas the API validates with. */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const endpoint of ENDPOINTS) {
    (paths[openApiPath(endpoint.path)] ??= {})[endpoint.method] = operation(endpoint);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'strangler-gateway admin API',
      version,
      description:
        'Routes, backends, their history, route files and breakers. When the gateway has STRANGLER_ADMIN_TOKEN set, every endpoint ' +
        'but the open ones (health probes, this document and its page) needs `Authorization: Bearer <token>`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
      schemas: Object.fromEntries(Object.entries(SCHEMAS).map(([name, [schema, io]]) => [name, jsonSchema(schema, io)])),
    },
  };
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const ref = (name: SchemaName) => ({ $ref: `#/components/schemas/${name}` });

function operation(endpoint: Endpoint): Record<string, unknown> {
  const parameters: unknown[] = [...endpoint.path.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (endpoint.paged) {
    parameters.push(
      { name: 'limit', in: 'query', description: `Items per page (default ${DEFAULT_PAGE})`, schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE } },
      { name: 'after', in: 'query', description: 'The `next` cursor of the page before', schema: { type: 'string' } },
    );
  }
  if (endpoint.change) {
    parameters.push({ name: 'X-Actor', in: 'header', description: 'Who makes the change (stored in the history)', schema: { type: 'string', maxLength: 128 } });
    if (endpoint.change.versioned) {
      parameters.push({ name: 'If-Match', in: 'header', description: 'The version you read, e.g. "3"; refused with 409 if the route moved on', schema: { type: 'string' } });
    }
  }
  const ok = endpoint.ok.schema
    ? { description: endpoint.ok.description, content: { 'application/json': { schema: ref(endpoint.ok.schema) } } }
    : endpoint.ok.type
      ? { description: endpoint.ok.description, content: { [endpoint.ok.type]: { schema: { type: endpoint.ok.type === 'application/json' ? 'object' : 'string' } } } }
      : { description: endpoint.ok.description };
  const responses: Record<string, unknown> = { [String(endpoint.ok.status)]: ok };
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of endpoint.errors) byStatus.set(ERRORS[code].status, [...(byStatus.get(ERRORS[code].status) ?? []), code]);
  for (const [status, codes] of byStatus) {
    responses[String(status)] = { description: codes.join(', '), content: { 'application/json': { schema: ref('Error') } } };
  }
  return {
    operationId: operationId(endpoint),
    summary: endpoint.summary,
    ...(endpoint.open ? { security: [] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(endpoint.body
      ? { requestBody: { required: endpoint.body.required, content: { 'application/json': { schema: ref(endpoint.body.schema) } } } }
      : {}),
    responses,
  };
}

/** `post /routes/:id/flip` → `postRoutesIdFlip`. */
function operationId(endpoint: Endpoint): string {
  const words = endpoint.path.split(/[^A-Za-z]+/).filter(Boolean);
  return endpoint.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/** `GET /openapi.json` and `GET /docs`; the document is built once, at start-up. */
export function registerOpenApi(app: FastifyInstance, version: string): void {
  const document = buildOpenApiDocument(version);
  const page = renderDocsPage(document);
  app.get('/openapi.json', async () => document);
  app.get('/docs', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
}
