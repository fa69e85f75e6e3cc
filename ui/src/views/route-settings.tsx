import { Fragment } from 'preact';
import type { Route } from '../../../src/routing/schema.js';
import { DASH, count } from '../format.js';

/** The route's settings, read-only (route files, the CLI or the API change the rest). */
export function RouteSettings({ route }: { route: Route }) {
  const r = route.resilience;
  const facts: [string, string][] = [
    ['Path prefix', route.pathPrefix],
    ['Canary share', `${route.canaryPercent}%`],
    ['Sticky key', route.stickyKey],
    ['Legacy backend', route.legacyBackend],
    ['Modern backend', route.modernBackend],
    ['Timeout', `${count(route.timeoutMs)} ms`],
    ['Body limit', route.maxBodyBytes === null ? 'gateway default' : `${count(route.maxBodyBytes)} bytes`],
    ['Retries', String(r.retries)],
    ['Fallback to legacy', r.fallback ? 'yes' : 'no'],
    ['Fall-through statuses', r.fallthroughStatuses.length === 0 ? DASH : r.fallthroughStatuses.join(', ')],
    ['Deadline', `${count(r.deadlineMs)} ms`],
    ['Hedge after', r.hedgeAfterMs === null ? 'off' : `${count(r.hedgeAfterMs)} ms${r.hedgePercentile === null ? '' : ` (p${r.hedgePercentile})`}`],
    ['Breaker opens at', `${r.breaker.failureRatePercent}% of ${r.breaker.windowSize} calls (min ${r.breaker.minimumCalls}), ${count(r.breaker.openMs)} ms open`],
    ['Updated', `${route.updatedAt.replace('T', ' ').replace(/\.\d+Z$/, '')}`],
  ];
  return (
    <section class="panel" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings</h2>
      <dl class="facts">
        {facts.map(([label, value]) => (
          <Fragment key={label}>
            <dt>{label}</dt>
            <dd class={label === 'Path prefix' || label === 'Sticky key' ? 'mono' : undefined}>
              {label.endsWith('backend') ? <a href="#/backends">{value}</a> : value}
            </dd>
          </Fragment>
        ))}
      </dl>
    </section>
  );
}
