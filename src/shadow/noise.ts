import type { Difference } from './compare.js';
import { generalise } from './json-path.js';

/** A route learns at most this many noise fields: a route whose every field varies is noise, not data. */
export const MAX_NOISE_FIELDS = 100;

/**
 * Noise learnt, not only listed (Diffy's idea): a field that differs between two answers of
 * legacy to the same request varies by itself (a timestamp, a request id), so its differing
 * between legacy and modern says nothing. Fields are kept generalised (`$.items[*].at`).
 */
export class NoiseLearner {
  private readonly fields = new Set<string>();

  /** Learns from two legacy answers to one request; the status is never noise. */
  learn(betweenLegacyAnswers: readonly Difference[]): void {
    for (const { path } of betweenLegacyAnswers) {
      if (path === 'status' || this.fields.size >= MAX_NOISE_FIELDS) continue;
      this.fields.add(generalise(path));
    }
  }

  /** Adds fields another gateway learnt (read back from the shared store). */
  adopt(fields: readonly string[]): void {
    for (const field of fields) if (this.fields.size < MAX_NOISE_FIELDS) this.fields.add(field);
  }

  isNoise(difference: Difference): boolean {
    return this.fields.size > 0 && this.fields.has(generalise(difference.path));
  }

  get size(): number {
    return this.fields.size;
  }

  list(): string[] {
    return [...this.fields];
  }
}
