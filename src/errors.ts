import { z } from 'zod';

/**
 * Every error the gateway reports has a stable code. Clients and scripts key on the code;
 * the message is for people. Admin API and data plane answer `{ error: { code, message, details? } }`.
 */
export const ERRORS = {
  BAD_REQUEST_TARGET: { status: 400, message: 'The request target is not allowed' },
  BAD_REQUEST: { status: 400, message: 'Malformed HTTP request' },
  VALIDATION_FAILED: { status: 400, message: 'The request failed validation' },
  INVALID_JSON: { status: 400, message: 'The body is not valid JSON' },
  UNAUTHORIZED: { status: 401, message: 'A valid bearer token is required' },
  HOST_NOT_ALLOWED: { status: 403, message: 'The Host header names a host this admin API does not serve' },
  NOT_FOUND: { status: 404, message: 'No such resource' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No such route' },
  BACKEND_NOT_FOUND: { status: 404, message: 'No such backend' },
  WEBHOOK_NOT_FOUND: { status: 404, message: 'No such webhook' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this resource' },
  DUPLICATE_PATH: { status: 409, message: 'A route with this path prefix already exists' },
  DUPLICATE_ID: { status: 409, message: 'A route with this id already exists' },
  VERSION_CONFLICT: { status: 409, message: 'The route has changed since the given version' },
  NO_PREVIOUS_VERSION: { status: 409, message: 'The route has no version to roll back to' },
  STAGE_SKIPPED: { status: 409, message: 'The stage change skips a stage; send "force": true to skip it' },
  STAGE_RETIRED: { status: 409, message: 'The route is retired; moving it back needs "force": true' },
  RETIRE_TOO_EARLY: { status: 409, message: 'The route may not retire yet' },
  ROLLOUT_NOT_READY: { status: 409, message: 'The route cannot start a rollout now' },
  ROLLOUT_NOT_RUNNING: { status: 409, message: 'No rollout is running on the route' },
  ROLLOUT_NOT_FOUND: { status: 404, message: 'The route has never had a rollout' },
  ROLLOUT_RUNNING: { status: 409, message: 'A rollout is already running on the route' },
  DUPLICATE_BACKEND: { status: 409, message: 'A backend with this name already exists' },
  DUPLICATE_WEBHOOK: { status: 409, message: 'A webhook with this URL already exists' },
  BACKEND_IN_USE: { status: 409, message: 'Routes use this backend' },
  BACKEND_REQUIRED: { status: 409, message: 'The default legacy and modern backends cannot be deleted' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  BODY_TOO_LARGE: { status: 413, message: 'The body is too large' },
  URI_TOO_LONG: { status: 414, message: 'The request target is too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The body must be application/json' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  INTERNAL: { status: 500, message: 'Internal error' },
  UPSTREAM_CONNECT_ERROR: { status: 502, message: 'The backend could not be reached' },
  UPSTREAM_ERROR: { status: 502, message: 'The backend failed' },
  NOT_READY: { status: 503, message: 'The gateway is not ready' },
  DB_BUSY: { status: 503, message: 'The route database stayed locked by another writer; retry shortly' },
  STORE_UNAVAILABLE: { status: 503, message: 'The route database cannot be reached; nothing was written, retry shortly' },
  CIRCUIT_OPEN: { status: 503, message: 'The backend is failing; its circuit breaker is open' },
  BACKEND_BUSY: { status: 503, message: 'The backend has too many requests in flight' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The backend did not answer in time' },
  CONFIG_INVALID: { status: 400, message: 'The configuration is invalid' },
  DB_OPEN_FAILED: { status: 500, message: 'The route database could not be opened' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** The body of every error answer, from the admin API and the data plane. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message?: string, options?: { details?: unknown; cause?: unknown }) {
    super(message ?? ERRORS[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = options?.details;
  }

  toJSON(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    return { error: errorBody(this.code, this.message, this.details) };
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

function errorBody(code: ErrorCode, message: string, details: unknown) {
  return details === undefined ? { code, message } : { code, message, details };
}

/** The JSON body every error response carries. */
export function errorJson(code: ErrorCode, message?: string, details?: unknown): string {
  return JSON.stringify({ error: errorBody(code, message ?? ERRORS[code].message, details) });
}
