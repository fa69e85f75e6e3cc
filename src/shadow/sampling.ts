import type { Random } from '../clock.js';
import type { ShadowSettings } from './settings.js';

/** Why a request of a shadow route was not copied. */
export const SKIP_REASONS = ['bulkheadFull', 'bodyTooLarge', 'notSampled', 'method'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** Request bodies are copied up to this size (the size the gateway buffers for replay anyway). */
export const MAX_COPY_BODY_BYTES = 64 * 1024;

/** Methods that need an Idempotency-Key to be copied even when listed: modern must be able to deduplicate them. */
const NEEDS_KEY = new Set(['POST', 'PATCH']);
/** Only these are ever asked of legacy twice: a noise sample must never repeat a write. */
const NOISE_METHODS = new Set(['GET', 'HEAD']);

export interface CopyCandidate {
  method: string;
  hasIdempotencyKey: boolean;
  /** The body's length, null for no body, 'unknown' for a chunked one. */
  bodyBytes: number | null | 'unknown';
}

export type CopyDecision = { copy: true; noise: boolean } | { copy: false; reason: SkipReason };

/**
 * Whether a request of a shadow route is copied to modern, and whether legacy is asked twice
 * to learn noise. Methods first (a write is never copied unless opted in), then the sample,
 * then the body size. The bulkhead is checked when the copy is sent.
 */
export function decideCopy(request: CopyCandidate, settings: ShadowSettings, random: Random): CopyDecision {
  const { method } = request;
  if (!settings.methods.includes(method) || (NEEDS_KEY.has(method) && !request.hasIdempotencyKey)) return { copy: false, reason: 'method' };
  if (random() * 100 >= settings.samplePercent) return { copy: false, reason: 'notSampled' };
  const { bodyBytes } = request;
  if (bodyBytes === 'unknown' || (bodyBytes !== null && bodyBytes > MAX_COPY_BODY_BYTES)) return { copy: false, reason: 'bodyTooLarge' };
  return { copy: true, noise: NOISE_METHODS.has(method) && random() * 100 < settings.noisePercent };
}
