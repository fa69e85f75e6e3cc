import { z } from 'zod';
import { FieldChange, diffSettings } from '../routing/diff.js';
import { BackendCreate, BackendName, BackendSettings, DEFAULT_BACKEND_NAMES, DEFAULT_BACKEND_SETTINGS, backendSettingsOf, mergeBackend, roleOf, type Backend } from './schema.js';

/** A backend as a route file declares it: the fields `POST /backends` takes; a field left out means its default. */
export const BackendSpec = BackendCreate.omit({ reason: true }).strict();
export type BackendSpec = z.infer<typeof BackendSpec>;

/** A desired backend: its name and its complete settings. */
export interface DesiredBackend {
  name: string;
  settings: BackendSettings;
}

const Version = z.number().int().min(1);

/** What applying a route file does to one backend. */
export const BackendPlanChange = z.discriminatedUnion('action', [
  z.object({ action: z.literal('create'), name: BackendName, settings: BackendSettings }),
  z.object({ action: z.literal('update'), name: BackendName, version: Version, changes: z.array(FieldChange) }),
  z.object({ action: z.literal('delete'), name: BackendName, version: Version }),
  z.object({ action: z.literal('unchanged'), name: BackendName, version: Version }),
]);
export type BackendPlanChange = z.infer<typeof BackendPlanChange>;

export const BackendPlan = z.object({
  changes: z.array(BackendPlanChange),
  /** Backends in the table but not in the file, left alone (prune off, or one of the two defaults). */
  unmanaged: z.array(BackendName),
});
export type BackendPlan = z.infer<typeof BackendPlan>;

export const NO_BACKEND_CHANGES: BackendPlan = { changes: [], unmanaged: [] };

/** The complete settings a spec declares, defaults filled in. */
export function desiredBackend(spec: BackendSpec): DesiredBackend {
  const { name, retryBudget, ...rest } = spec;
  return { name, settings: BackendSettings.parse(mergeBackend({ ...rest, role: roleOf(spec), retryBudget: DEFAULT_BACKEND_SETTINGS.retryBudget }, { retryBudget })) };
}

/** A backend as `strangler export` writes it. */
export function backendSpecOf(backend: Backend): BackendSpec {
  return { name: backend.name, ...backendSettingsOf(backend) };
}

/**
 * The changes that turn `current` into `desired`; pure. With `prune`, backends the file does not
 * list are deleted, except the two defaults, which every gateway keeps.
 */
export function planBackendChanges(current: readonly Backend[], desired: readonly DesiredBackend[], prune: boolean): BackendPlan {
  const existing = new Map(current.map((b) => [b.name, b]));
  const wanted = new Set(desired.map((d) => d.name));
  const changes: BackendPlanChange[] = [];
  for (const { name, settings } of desired) {
    const backend = existing.get(name);
    if (backend === undefined) {
      changes.push({ action: 'create', name, settings });
      continue;
    }
    const diff = diffSettings(backendSettingsOf(backend), settings);
    changes.push(diff.length === 0 ? { action: 'unchanged', name, version: backend.version } : { action: 'update', name, version: backend.version, changes: diff });
  }
  const defaults = new Set(Object.values(DEFAULT_BACKEND_NAMES));
  const unmanaged: string[] = [];
  for (const backend of current) {
    if (wanted.has(backend.name)) continue;
    if (prune && !defaults.has(backend.name)) changes.push({ action: 'delete', name: backend.name, version: backend.version });
    else unmanaged.push(backend.name);
  }
  return { changes, unmanaged };
}
