/** Freezes `value` and everything in it: settings objects shared by many routes must never change under one of them. */
export function deepFreeze<T extends object>(value: T): T {
  for (const v of Object.values(value)) if (v !== null && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(value);
}
