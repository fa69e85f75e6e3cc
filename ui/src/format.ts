/**
 * Numbers as the tables show them: a fixed number of decimals, so a refresh changes digits but
 * never the width of a cell (the stylesheet sets tabular figures). Pure, unit-tested.
 */

export const DASH = '–';

/** Requests per second: `0.0/s`, `12.3/s`, `1.2k/s`. */
export function rate(perSecond: number): string {
  if (perSecond >= 1000) return `${(perSecond / 1000).toFixed(1)}k/s`;
  return `${perSecond.toFixed(1)}/s`;
}

/** A share in [0, 1] as a percentage with one decimal: `0.0%`, `12.5%`, `100.0%`. */
export function percent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return DASH;
  return `${(share * 100).toFixed(1)}%`;
}

/** A latency in ms: one decimal under 100 ms, whole ms up to 10 s, then seconds. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  if (value < 100) return `${value.toFixed(1)} ms`;
  if (value < 10_000) return `${Math.round(value)} ms`;
  return `${(value / 1000).toFixed(1)} s`;
}

/** A count with thousands separators: `1,234`. */
export function count(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** An ISO time as `2026-12-01 12:03:00` (UTC), or a dash. */
export function time(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return DASH;
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

/** Any JSON value, short: strings bare, the rest as JSON, cut at `max` characters. */
export function value(v: unknown, max = 80): string {
  const text = typeof v === 'string' ? v : v === undefined ? DASH : JSON.stringify(v);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
