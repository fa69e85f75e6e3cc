import type { BreakerView } from '../../../src/admin/breakers.js';
import { call } from '../api.js';
import { count, time } from '../format.js';
import type { PendingChange } from './confirm-dialog.js';

/** The route's modern-side circuit breaker, and closing it by hand. */
export function BreakerPanel({ routeId, breaker, propose }: { routeId: string; breaker: BreakerView | undefined; propose: (c: PendingChange) => void }) {
  const reset = () =>
    propose({
      title: `Reset ${routeId}'s breaker`,
      lines: [`breaker: ${breaker?.state ?? 'closed'} → closed`, 'Modern gets traffic again at once; its failure window starts empty.'],
      confirmLabel: 'Reset the breaker',
      run: async () => void (await call('POST', `breakers/${encodeURIComponent(routeId)}/reset`)),
    });
  return (
    <section class="panel" aria-labelledby="breaker-title">
      <h2 id="breaker-title">Breaker (modern side)</h2>
      {breaker === undefined ? (
        <p class="note">No breaker numbers yet.</p>
      ) : (
        <dl class="facts">
          <dt>State</dt>
          <dd>
            <span class={`breaker breaker-${breaker.state}`} data-stat="breaker-state">{breaker.state}</span>
          </dd>
          <dt>Failure rate</dt>
          <dd class="num">{breaker.failureRatePercent.toFixed(1)}%</dd>
          <dt>Calls (failures) in window</dt>
          <dd class="num">
            {count(breaker.callsInWindow)} ({count(breaker.failuresInWindow)})
          </dd>
          <dt>Last change</dt>
          <dd class="num">{time(breaker.lastTransitionAt)}</dd>
          {breaker.nextProbeAt !== null && (
            <>
              <dt>Next probe</dt>
              <dd class="num">{time(breaker.nextProbeAt)}</dd>
            </>
          )}
        </dl>
      )}
      <button type="button" onClick={reset} disabled={breaker === undefined || breaker.state === 'closed'}>
        Reset breaker…
      </button>
    </section>
  );
}
