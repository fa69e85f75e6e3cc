import { bodyHash, type Answer } from './answer.js';
import { formatPath, matches, parsePath, within, type PatternStep, type Step } from './json-path.js';
import { REDACTED, isRedacted, isSecretHeader, redactWithin } from './redact.js';
import type { ShadowSettings } from './settings.js';

/** One place where the two answers differ; values as JSON text, cut to VALUE_CHARS. */
export interface Difference {
  /** `status`, `headers.<name>`, `body`, or a JSON path such as `$.items[2].price`. */
  path: string;
  legacy: string;
  modern: string;
}

/** Headers that change what a client does with an answer; `compareHeaders` adds to them. */
export const COMPARED_HEADERS = ['content-type', 'location', 'cache-control'] as const;
/** A comparison stops listing differences past this many: the counts need no more. */
export const MAX_DIFFERENCES = 100;
export const VALUE_CHARS = 200;
const ABSENT = '(absent)';

/** A route's shadow settings compiled for comparing: the copy thread compiles them once per route version (copy-worker.ts). */
export interface ComparePolicy {
  headers: readonly string[];
  ignore: readonly PatternStep[][];
  unordered: readonly PatternStep[][];
  redact: readonly PatternStep[][];
}

export function comparePolicy(settings: ShadowSettings): ComparePolicy {
  const parse = (paths: readonly string[]) => paths.map((p) => parsePath(p)!);
  return {
    headers: [...new Set([...COMPARED_HEADERS, ...settings.compareHeaders])],
    ignore: parse(settings.ignorePaths),
    unordered: parse(settings.unorderedPaths),
    redact: parse(settings.redactPaths),
  };
}

/**
 * Where two answers differ: the status, the compared headers, and the body — JSON
 * structurally (key order never matters; arrays by position unless listed unordered), text
 * exactly, anything else (or anything past the size limit) by length and hash.
 */
export function compareAnswers(legacy: Answer, modern: Answer, policy: ComparePolicy): Difference[] {
  const out: Difference[] = [];
  if (legacy.status !== modern.status) out.push({ path: 'status', legacy: String(legacy.status), modern: String(modern.status) });
  for (const name of policy.headers) {
    const a = legacy.headers[name];
    const b = modern.headers[name];
    if (a === b) continue;
    const show = (v: string | undefined) => (v === undefined ? ABSENT : isSecretHeader(name) ? REDACTED : cut(v));
    out.push({ path: `headers.${name}`, legacy: show(a), modern: show(b) });
  }
  compareBodies(legacy, modern, policy, out);
  return out;
}

type BodyKind = 'json' | 'text' | 'bytes';

function kindOf(answer: Answer): BodyKind {
  const type = (answer.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (/^application\/(?:[a-z0-9.+-]*\+)?json$/.test(type)) return 'json';
  if (type.startsWith('text/') || /^application\/(?:xml|javascript|x-www-form-urlencoded|[a-z0-9.+-]*\+xml)$/.test(type)) return 'text';
  return 'bytes';
}

function compareBodies(legacy: Answer, modern: Answer, policy: ComparePolicy, out: Difference[]): void {
  const a = legacy.body;
  const b = modern.body;
  if (a.bytes === undefined || b.bytes === undefined) {
    // Too long to compare whole: the same bytes or not.
    const [ha, hb] = [bodyHash(a), bodyHash(b)];
    if (a.length !== b.length || ha !== hb) out.push({ path: 'body', legacy: `${a.length} bytes, sha256 ${ha}`, modern: `${b.length} bytes, sha256 ${hb}` });
    return;
  }
  if (a.bytes.equals(b.bytes)) return;
  const kind = kindOf(legacy);
  if (kind === 'json') {
    const [ja, jb] = [parseJson(a.bytes), parseJson(b.bytes)];
    if (ja !== undefined && jb !== undefined) return diffJson(ja.value, jb.value, [], policy, out);
  }
  if (kind === 'bytes') {
    out.push({ path: 'body', legacy: `${a.length} bytes, sha256 ${bodyHash(a)}`, modern: `${b.length} bytes, sha256 ${bodyHash(b)}` });
    return;
  }
  const [ta, tb] = [a.bytes.toString('utf8'), b.bytes.toString('utf8')];
  let at = 0;
  while (at < ta.length && ta[at] === tb[at]) at++;
  const from = Math.max(0, at - 20);
  out.push({ path: 'body', legacy: cut(`@${at}: ${ta.slice(from)}`), modern: cut(`@${at}: ${tb.slice(from)}`) });
}

function parseJson(bytes: Buffer): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return undefined;
  }
}

function diffJson(a: unknown, b: unknown, path: Step[], policy: ComparePolicy, out: Difference[]): void {
  if (out.length >= MAX_DIFFERENCES) return;
  if (policy.ignore.some((p) => within(p, path))) return;
  const differ = () => out.push({ path: formatPath(path), legacy: show(a, path, policy), modern: show(b, path, policy) });
  if (Array.isArray(a) && Array.isArray(b)) {
    if (policy.unordered.some((p) => matches(p, path))) {
      if (!sameMultiset(a, b, path, policy.ignore)) differ();
      return;
    }
    for (let i = 0; i < Math.max(a.length, b.length); i++) diffJson(i < a.length ? a[i] : ABSENT_VALUE, i < b.length ? b[i] : ABSENT_VALUE, [...path, i], policy, out);
    return;
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of [...keys].sort()) diffJson(key in a ? a[key] : ABSENT_VALUE, key in b ? b[key] : ABSENT_VALUE, [...path, key], policy, out);
    return;
  }
  if (a !== b) differ();
}

/** Stands for a key or element one side has and the other lacks. */
const ABSENT_VALUE = Symbol('absent');

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function show(value: unknown, path: Step[], policy: ComparePolicy): string {
  if (value === ABSENT_VALUE) return ABSENT;
  if (isRedacted(policy.redact, path)) return REDACTED;
  return cut(JSON.stringify(redactWithin(value, path, policy.redact)));
}

/** Two arrays hold the same elements, each as often, in any order (elements compared as canonical JSON, ignored places left out). */
function sameMultiset(a: unknown[], b: unknown[], path: Step[], ignore: ComparePolicy['ignore']): boolean {
  if (a.length !== b.length) return false;
  // -1: any element, so `[*]` in an ignore pattern matches it.
  const key = (v: unknown) => canonical(v, [...path, -1], ignore);
  const counts = new Map<string, number>();
  for (const v of a) counts.set(key(v), (counts.get(key(v)) ?? 0) + 1);
  for (const v of b) {
    const k = key(v);
    const n = counts.get(k) ?? 0;
    if (n === 0) return false;
    counts.set(k, n - 1);
  }
  return true;
}

/** JSON text with object keys sorted, so key order never makes two values differ; places under `ignore` left out. */
function canonical(value: unknown, path: Step[], ignore: ComparePolicy['ignore']): string {
  if (Array.isArray(value)) return `[${value.map((v, i) => canonical(v, [...path, i], ignore)).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).filter((k) => !ignore.some((p) => within(p, [...path, k])));
    return `{${keys.sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k], [...path, k], ignore)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function cut(text: string): string {
  return text.length <= VALUE_CHARS ? text : `${text.slice(0, VALUE_CHARS - 1)}…`;
}
