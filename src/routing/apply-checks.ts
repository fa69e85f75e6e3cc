import type { Backend, Side } from '../backends/schema.js';
import { DEFAULT_BACKEND_NAMES } from '../backends/schema.js';
import type { DesiredBackend } from '../backends/plan.js';
import { GatewayError } from '../errors.js';
import type { Plan } from './plan.js';
import type { DesiredRoute } from './route-file.js';
import type { Route, RouteSettings } from './schema.js';

/**
 * Refuses a file whose routes would take a prefix from a route the apply keeps but does not
 * manage (not in the file, not pruned); names the entry, so the fix is obvious.
 */
export function assertFinalPrefixesFree(current: readonly Route[], desired: readonly DesiredRoute[], plan: Plan): void {
  const kept = new Map(current.filter((r) => plan.unmanaged.includes(r.id)).map((r) => [r.pathPrefix, r.id]));
  desired.forEach(({ id, settings }, i) => {
    const owner = kept.get(settings.pathPrefix);
    if (owner !== undefined) {
      throw new GatewayError(
        'DUPLICATE_PATH',
        `routes[${i}] (${id}): route "${owner}", which the file does not list, already has path prefix ${settings.pathPrefix}; add it to the file or apply with prune`,
      );
    }
  });
}

/**
 * Refuses a file whose routes, in the table the apply would leave, name a backend that would not
 * exist or would have the other role; names the entry, so the fix is obvious.
 */
export function assertFinalBackendsUsable(
  current: readonly Route[],
  desired: readonly DesiredRoute[],
  plan: Plan,
  currentBackends: readonly Backend[],
  desiredBackends: readonly DesiredBackend[],
): void {
  const roles = new Map<string, Side>([
    [DEFAULT_BACKEND_NAMES.legacy, 'legacy'],
    [DEFAULT_BACKEND_NAMES.modern, 'modern'],
    ...currentBackends.map((b) => [b.name, b.role] as const),
  ]);
  for (const b of desiredBackends) {
    const fixed = DEFAULT_BACKEND_NAMES[b.settings.role === 'legacy' ? 'modern' : 'legacy'];
    if (b.name === fixed) throw new GatewayError('BACKEND_REQUIRED', `backend "${b.name}" is a default backend and keeps its role`);
    roles.set(b.name, b.settings.role);
  }
  const pruned = new Set<string>();
  for (const change of plan.backends.changes) {
    if (change.action !== 'delete') continue;
    roles.delete(change.name);
    pruned.add(change.name);
  }
  const check = (label: string, settings: RouteSettings) => {
    for (const [field, role] of [['legacyBackend', 'legacy'], ['modernBackend', 'modern']] as const) {
      const name = settings[field];
      const actual = roles.get(name);
      if (actual === role) continue;
      const message = pruned.has(name)
        ? `backend "${name}" is in use, so it cannot be pruned`
        : actual === undefined
          ? `no backend named "${name}"`
          : `backend "${name}" has role ${actual}, not ${role}`;
      const inUse = pruned.has(name) || (actual !== undefined && !label.startsWith('routes['));
      throw new GatewayError(inUse ? 'BACKEND_IN_USE' : 'VALIDATION_FAILED', `${label}.${field}: ${message}`, {
        details: [{ path: `${label}.${field}`, message }],
      });
    }
  };
  desired.forEach(({ id, settings }, i) => check(`routes[${i}] (${id})`, settings));
  const deleted = new Set(plan.changes.filter((c) => c.action === 'delete').map((c) => c.id));
  const inFile = new Set(desired.map((d) => d.id));
  for (const route of current) if (!inFile.has(route.id) && !deleted.has(route.id)) check(`route "${route.id}" (not in the file)`, route);
}

