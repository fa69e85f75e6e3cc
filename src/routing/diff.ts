import { z } from 'zod';

/** One setting that differs, by its dotted path (`resilience.breaker.openMs`). */
export const FieldChange = z.object({ field: z.string(), from: z.unknown(), to: z.unknown() });
export type FieldChange = z.infer<typeof FieldChange>;

/** Every leaf that differs between two settings objects; arrays compare whole. */
export function diffSettings(before: object, after: object): FieldChange[] {
  const a = leaves(before);
  const b = leaves(after);
  const fields = [...new Set([...a.keys(), ...b.keys()])];
  return fields
    .filter((field) => JSON.stringify(a.get(field)) !== JSON.stringify(b.get(field)))
    .map((field) => ({ field, from: a.get(field), to: b.get(field) }));
}

/** Every leaf of a nested object by its dotted path, in key order; arrays are leaves. */
export function leaves(value: object, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> {
  for (const [key, v] of Object.entries(value)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) leaves(v as object, `${prefix}${key}.`, into);
    else into.set(prefix + key, v);
  }
  return into;
}

