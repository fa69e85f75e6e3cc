/**
 * What a history row changed: the settings that differ between its before and after, as dotted
 * paths (`resilience.breaker.openMs`). Bookkeeping fields are left out. Pure, unit-tested.
 */

export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

const BOOKKEEPING = new Set(['version', 'createdAt', 'updatedAt']);

export function changedFields(before: unknown, after: unknown): FieldChange[] {
  const changes: FieldChange[] = [];
  walk(before, after, '', changes);
  return changes;
}

function walk(before: unknown, after: unknown, path: string, out: FieldChange[]): void {
  if (isRecord(before) && isRecord(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const key of [...keys].sort()) {
      if (path === '' && BOOKKEEPING.has(key)) continue;
      walk(before[key], after[key], path === '' ? key : `${path}.${key}`, out);
    }
    return;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) out.push({ field: path === '' ? '(route)' : path, before, after });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
