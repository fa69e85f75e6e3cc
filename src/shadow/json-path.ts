/**
 * The small path syntax shadow settings use to name places in a JSON answer: `$` is the whole
 * document, `.name` an object key, `[3]` an array element and `[*]` every element, e.g.
 * `$.meta.requestId` or `$.items[*].updatedAt`. No wildcard keys, no recursion: enough to name
 * noise, never a query language.
 */

/** One step of a concrete path: an object key or an array index. */
export type Step = string | number;

/** One step of a pattern: a key, an index, or any index (`[*]`). */
export type PatternStep = string | number | '*';

const SEGMENT = /^(?:\.([A-Za-z0-9_$@-]+)|\[(\*|[0-9]{1,9})\])/;

/** Parses a pattern; undefined when it is not in the syntax. */
export function parsePath(text: string): PatternStep[] | undefined {
  if (!text.startsWith('$')) return undefined;
  const steps: PatternStep[] = [];
  for (let rest = text.slice(1); rest.length > 0; ) {
    const m = SEGMENT.exec(rest);
    if (m === null) return undefined;
    if (m[1] !== undefined) steps.push(m[1]);
    else steps.push(m[2] === '*' ? '*' : Number(m[2]));
    rest = rest.slice(m[0].length);
  }
  return steps;
}

/** Whether `path` is exactly what `pattern` names (not something below it). */
export function matches(pattern: readonly PatternStep[], path: readonly Step[]): boolean {
  if (pattern.length !== path.length) return false;
  return pattern.every((p, i) => p === path[i] || (p === '*' && typeof path[i] === 'number'));
}

/** Whether `path` is what `pattern` names or lies below it. */
export function within(pattern: readonly PatternStep[], path: readonly Step[]): boolean {
  return pattern.length <= path.length && matches(pattern, path.slice(0, pattern.length));
}

/** A concrete path as text: `$.items[2].price`; keys outside the syntax are quoted (`$["a b"]`). */
export function formatPath(path: readonly Step[]): string {
  let text = '$';
  for (const step of path) {
    if (typeof step === 'number') text += `[${step}]`;
    else text += /^[A-Za-z0-9_$@-]+$/.test(step) ? `.${step}` : `[${JSON.stringify(step)}]`;
  }
  return text;
}

/** The path with every index replaced by `[*]`: how differences are counted and noise is learnt. */
export function generalise(path: string): string {
  return path.replace(/\[[0-9]+\]/g, '[*]');
}
