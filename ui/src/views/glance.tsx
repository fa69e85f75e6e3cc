import type { MigrationStatus } from '../../../src/observe/status.js';
import { count, percent, rate } from '../format.js';
import { chartPoints, SHARE_WINDOW_MS, type ShareSample } from '../share-history.js';

const W = 240;
const H = 60;

/** The migration at a glance: modern's share of traffic, routes per mode, and the share over time. */
export function Glance({ status, samples }: { status: MigrationStatus; samples: readonly ShareSample[] }) {
  const { total, ...modes } = status.routes;
  const last = samples.at(-1);
  return (
    <section class="glance" aria-label="Migration at a glance">
      <div class="stat">
        <span class="label">Traffic on modern</span>
        <span class="big num" data-stat="modern-share">{percent(status.traffic.modernShare)}</span>
        <span class="sub num">
          {count(status.traffic.requests)} requests · {rate(status.traffic.ratePerSecond)} over {Math.round(status.windowSeconds / 60)} min
        </span>
      </div>
      <div class="stat">
        <span class="label">Routes per mode</span>
        <ul class="modes">
          {Object.entries(modes).map(([mode, n]) => (
            <li key={mode}>
              <span class={`mode mode-${mode}`}>{mode}</span> <span class="num" data-stat={`mode-${mode}`}>{n}</span>
            </li>
          ))}
          <li>
            total <span class="num">{total}</span>
          </li>
        </ul>
      </div>
      <figure class="stat chart">
        <figcaption class="label">Modern's share, last {SHARE_WINDOW_MS / 60_000} min (kept by this tab)</figcaption>
        <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={`Modern's share over time, now ${percent(last?.share)}`}>
          <line x1="0" y1={H / 2} x2={W} y2={H / 2} class="grid" />
          <text x="2" y="9" class="axis">100%</text>
          <text x="2" y={H - 2} class="axis">0%</text>
          <polyline points={chartPoints(samples, last?.at ?? 0, W, H)} class="line" />
        </svg>
      </figure>
    </section>
  );
}
