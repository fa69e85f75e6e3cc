import { GatewayError } from '../errors.js';
import { parseOrThrow } from '../validation.js';
import {
  BackendSettings,
  DEFAULT_BACKEND_NAMES,
  DEFAULT_BACKEND_SETTINGS,
  backendSettingsOf,
  mergeBackend,
  roleOf,
  type Backend,
  type BackendChanges,
  type BackendCreate,
  type Side,
} from './schema.js';

/** The rules every store applies to backend changes, whatever the engine: pure, given what was read. */

export function isDefault(name: string): boolean {
  return name === DEFAULT_BACKEND_NAMES.legacy || name === DEFAULT_BACKEND_NAMES.modern;
}

/** The complete settings of a new backend, defaults filled in. */
export function newBackendSettings(input: BackendCreate): BackendSettings {
  const { name: _name, reason: _reason, retryBudget, ...rest } = input;
  return parseOrThrow(BackendSettings, mergeBackend({ ...rest, role: roleOf(input), retryBudget: DEFAULT_BACKEND_SETTINGS.retryBudget }, { retryBudget }));
}

/**
 * `backend`'s settings with `changes` merged, or undefined when they change nothing. A default
 * backend keeps its role.
 */
export function changedBackendSettings(backend: Backend, changes: BackendChanges): BackendSettings | undefined {
  const settings = parseOrThrow(BackendSettings, mergeBackend(backendSettingsOf(backend), changes));
  if (JSON.stringify(settings) === JSON.stringify(backendSettingsOf(backend))) return undefined;
  if (settings.role !== backend.role && isDefault(backend.name)) {
    throw new GatewayError('BACKEND_REQUIRED', `backend "${backend.name}" is the default ${backend.role} backend and keeps that role`);
  }
  return settings;
}

/** Refuses to change the role of (`action: 'role'`) or delete a backend that routes name. */
export function assertUnused(name: string, routes: readonly string[], action: 'role' | 'delete'): void {
  if (routes.length === 0) return;
  const then = action === 'role' ? 'move them to another backend before changing its role' : 'move them to another backend first';
  throw new GatewayError('BACKEND_IN_USE', `backend "${name}" is used by ${listOf(routes)}; ${then}`, { details: { routes } });
}

export function assertDeletable(name: string): void {
  if (isDefault(name)) throw new GatewayError('BACKEND_REQUIRED', `backend "${name}" is one of the two every gateway has; change its url instead`);
}

/**
 * Refuses a route side naming `name` when `backend` (what the store holds under that name) does
 * not exist or has the wrong role; `field` names the offending setting. The defaults always do.
 */
export function assertUsable(name: string, role: Side, field: string, backend: Backend | undefined): void {
  // The defaults keep their roles and exist once a gateway serves, even in a table seeded before its first start.
  if (name === DEFAULT_BACKEND_NAMES[role]) return;
  if (backend === undefined) {
    throw new GatewayError('VALIDATION_FAILED', `${field}: no backend named "${name}"`, { details: [{ path: field, message: `no backend named "${name}"` }] });
  }
  if (backend.role !== role) {
    const message = `backend "${name}" has role ${backend.role}, not ${role}`;
    throw new GatewayError('VALIDATION_FAILED', `${field}: ${message}`, { details: [{ path: field, message }] });
  }
}

/** A default backend that is neither stored nor given a URL: the gateway would have nowhere to send. */
export function missingDefault(role: Side): GatewayError {
  return new GatewayError('CONFIG_INVALID', `no ${role} backend URL: give --${role} URL (or STRANGLER_${role.toUpperCase()}_URL)`);
}

export function backendNotFound(name: string): GatewayError {
  return new GatewayError('BACKEND_NOT_FOUND', `no backend "${name}"`);
}

function listOf(routes: readonly string[]): string {
  const shown = routes.slice(0, 10).map((r) => `"${r}"`).join(', ');
  return `route${routes.length === 1 ? '' : 's'} ${shown}${routes.length > 10 ? ` and ${routes.length - 10} more` : ''}`;
}
