import { useState } from 'preact/hooks';
import type { RolloutView } from '../../../src/rollout/view.js';
import { ApiError, call, get } from '../api.js';
import { count, ms, percent, time } from '../format.js';
import { usePoll } from '../poll.js';
import type { PendingChange } from './confirm-dialog.js';

/**
 * The route's rollout (`GET /routes/:id/rollout`): its step, the verdict and why, both sides'
 * figures over the step on every gateway, and pause / resume / abort. Hidden when the route has
 * never had one (404 ROLLOUT_NOT_FOUND), or the gateway serves no rollouts (404).
 */
export function RolloutPanel({ routeId, propose }: { routeId: string; propose: (change: PendingChange) => void }) {
  const [view, setView] = useState<RolloutView | null>(null);
  usePoll(async () => {
    try {
      setView(await get<RolloutView>(`routes/${encodeURIComponent(routeId)}/rollout`));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setView(null);
      else throw err;
    }
  }, [routeId]);
  if (view === null) return null;
  const live = view.status === 'running' || view.status === 'paused';
  const act = (verb: 'pause' | 'resume' | 'abort', lines: string[]) =>
    propose({
      title: `${verb[0]!.toUpperCase()}${verb.slice(1)} ${routeId}'s rollout`,
      lines,
      confirmLabel: `${verb[0]!.toUpperCase()}${verb.slice(1)} the rollout`,
      danger: verb === 'abort',
      run: async () => void (await call('POST', `routes/${encodeURIComponent(routeId)}/rollout/${verb}`)),
    });
  const side = (name: string, f: RolloutView['window']['modern']) => (
    <tr>
      <th scope="row">{name}</th>
      <td class="num">{count(f.requests)}</td>
      <td class="num">{percent(f.errorRate)}</td>
      <td class="num">{f.p99Ms === null ? '–' : ms(f.p99Ms)}</td>
    </tr>
  );
  return (
    <section class="panel" aria-labelledby="rollout-title">
      <h2 id="rollout-title">Rollout</h2>
      <dl class="facts">
        <dt>Status</dt>
        <dd data-stat="rollout-status">{view.status}</dd>
        <dt>Step</dt>
        <dd class="num" data-stat="rollout-step">
          {view.step + 1} of {view.plan.steps.length} ({view.percent}% to modern)
        </dd>
        <dt>Since</dt>
        <dd class="num">{time(new Date(view.stepSince).toISOString())}</dd>
        <dt>Verdict</dt>
        <dd data-stat="rollout-verdict">{view.verdict === null ? '–' : `${view.verdict.kind}: ${view.verdict.reason}`}</dd>
        <dt>Leader</dt>
        <dd class="mono">{view.leader}</dd>
      </dl>
      <table class="sides">
        <caption>This step</caption>
        <thead>
          <tr>
            <th scope="col">Side</th>
            <th scope="col" class="num">Requests</th>
            <th scope="col" class="num">Errors</th>
            <th scope="col" class="num">p99</th>
          </tr>
        </thead>
        <tbody>
          {side('modern', view.window.modern)}
          {side('legacy', view.window.legacy)}
        </tbody>
      </table>
      {live && (
        <div class="actions">
          {view.status === 'running' ? (
            <button type="button" onClick={() => act('pause', ['The current step holds until resumed; checks neither advance nor fail it.'])}>
              Pause…
            </button>
          ) : (
            <button type="button" onClick={() => act('resume', ['The step continues where it was; the time paused does not count.'])}>
              Resume…
            </button>
          )}
          <button type="button" class="danger" onClick={() => act('abort', ['The rollout stops and the route returns to legacy at once.'])}>
            Abort…
          </button>
        </div>
      )}
    </section>
  );
}
