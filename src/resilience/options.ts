/**
 * Option handling shared by the resilience modules: callers pass a partial object, it is merged
 * over the module's exported `DEFAULT_*` constant, and every value is range-checked once, at
 * construction, so a bad configuration fails loudly at startup instead of misbehaving under load.
 */

/**
 * `options` merged over `defaults`. A key that is present but `undefined` keeps its default
 * (a plain spread would overwrite it with `undefined`, which then fails validation confusingly).
 * The result is frozen: options are read on every call and never change after construction.
 */
export function withDefaults<T extends object>(defaults: T, options: Partial<T>): Readonly<T> {
  const merged: T = { ...defaults };
  for (const key of Object.keys(options) as (keyof T)[]) {
    const value = options[key];
    if (value !== undefined) merged[key] = value as T[keyof T];
  }
  return Object.freeze(merged);
}

/** Throws a RangeError unless `value` is an integer in [min, max]. */
export function requireInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

/**
 * Throws a RangeError unless `value` is a finite number in the given range; the lower bound is
 * exclusive when `exclusiveMin` is true (for values where zero makes no sense, like a threshold).
 */
export function requireFinite(name: string, value: number, min: number, max: number, exclusiveMin = false): void {
  const aboveMin = exclusiveMin ? value > min : value >= min;
  if (typeof value !== 'number' || !Number.isFinite(value) || !aboveMin || value > max) {
    throw new RangeError(`${name} must be a number in ${exclusiveMin ? '(' : '['}${min}, ${max}], got ${String(value)}`);
  }
}
