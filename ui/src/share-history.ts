/**
 * Modern's share of traffic over time, kept in the page (the gateway keeps only its window's
 * current value): one sample per refresh, the oldest dropped past `windowMs`. Pure, unit-tested.
 */

export interface ShareSample {
  /** Milliseconds since the epoch. */
  at: number;
  /** Modern's share in [0, 1]. */
  share: number;
}

/** 15 minutes of samples: long enough to see a canary step take effect. */
export const SHARE_WINDOW_MS = 15 * 60_000;

export function addSample(samples: readonly ShareSample[], sample: ShareSample, windowMs = SHARE_WINDOW_MS): ShareSample[] {
  return [...samples.filter((s) => s.at > sample.at - windowMs && s.at < sample.at), sample];
}

/** The chart spans at least this much time, so the first few samples do not fill it edge to edge. */
const MIN_SPAN_MS = 60_000;

/**
 * The samples as SVG polyline points in a `width` × `height` box: time left to right, ending
 * `now` and reaching back to the oldest sample (at least a minute, at most the window); share
 * bottom (0) to top (1).
 */
export function chartPoints(samples: readonly ShareSample[], now: number, width: number, height: number, windowMs = SHARE_WINDOW_MS): string {
  const oldest = samples[0]?.at ?? now;
  const span = Math.min(windowMs, Math.max(MIN_SPAN_MS, now - oldest));
  return samples
    .map((s) => {
      const x = Math.max(0, width - ((now - s.at) / span) * width);
      const y = height - Math.min(1, Math.max(0, s.share)) * height;
      return `${round(x)},${round(y)}`;
    })
    .join(' ');
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
