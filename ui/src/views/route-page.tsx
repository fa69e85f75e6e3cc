import { useCallback, useEffect, useState } from 'preact/hooks';
import type { BreakerView } from '../../../src/admin/breakers.js';
import type { RouteStatus } from '../../../src/observe/status.js';
import type { HistoryEntry, Route } from '../../../src/routing/schema.js';
import { call, describe, get } from '../api.js';
import { cursorBefore, pageQuery } from '../paging.js';
import { usePoll } from '../poll.js';
import { invalidateIndex, routeIndex } from '../route-index.js';
import { BreakerPanel } from './breaker-panel.js';
import { ChangeError } from './change-error.js';
import { ConfirmDialog, type PendingChange } from './confirm-dialog.js';
import { RouteControls } from './route-controls.js';
import { RouteHistory } from './route-history.js';
import { RouteSettings } from './route-settings.js';
import { SideTable } from './side-table.js';
import { RolloutPanel } from './rollout-panel.js';
import { ShadowPanel } from './shadow-panel.js';

interface Live {
  status: RouteStatus | undefined;
  breaker: BreakerView | undefined;
}

/**
 * One route: its numbers, its settings, the changes (canary, mode, flip, revert, breaker reset),
 * each made only after a confirmation and sent with the version this page loaded (If-Match), so
 * a change someone else made meanwhile is never overwritten.
 */
export function RoutePage({ id }: { id: string }) {
  const [route, setRoute] = useState<Route | null>(null);
  const [history, setHistory] = useState<HistoryEntry[]>([]);
  const [live, setLive] = useState<Live>({ status: undefined, breaker: undefined });
  const [loadError, setLoadError] = useState<string | null>(null);
  const [changeError, setChangeError] = useState<unknown>(null);
  const [pending, setPending] = useState<PendingChange | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      const [r, h] = await Promise.all([get<Route>(`routes/${encodeURIComponent(id)}`), get<{ history: HistoryEntry[] }>(`routes/${encodeURIComponent(id)}/history`)]);
      setRoute(r);
      setHistory(h.history);
      setLoadError(null);
    } catch (err) {
      setLoadError(describe(err));
    }
  }, [id]);
  useEffect(() => void reload(), [reload]);
  usePoll(async () => setLive(await liveNumbers(id)), [id]);
  // The route itself is not replaced under the user's hands: a newer version is only announced.
  const [newer, setNewer] = useState<number | null>(null);
  usePoll(async () => setNewer((await get<Route>(`routes/${encodeURIComponent(id)}`)).version), [id]);

  /**
   * Wraps a change: shows its outcome; after a success, reloads the route and its history. After
   * a refusal the page keeps what it showed, so the user reads the error and reloads when ready.
   */
  const propose = (change: PendingChange) =>
    setPending({
      ...change,
      run: async (reason) => {
        setChangeError(null);
        setSaved(null);
        try {
          await change.run(reason);
        } catch (err) {
          setChangeError(err);
          return;
        }
        invalidateIndex();
        setSaved(`${change.title}: done.`);
        await reload();
        setLive(await liveNumbers(id).catch(() => live));
      },
    });

  if (route === null) {
    return loadError === null ? <p class="loading">Loading route {id}…</p> : <p class="error" role="alert">Could not load route {id}: {loadError}</p>;
  }
  const flip = () =>
    propose({
      title: `Flip ${route.id} to legacy`,
      lines: [`mode: ${route.mode} → legacy`, 'All of its traffic goes to the legacy backend at once.'],
      confirmLabel: 'Flip to legacy',
      danger: true,
      // No version: an emergency flip back to legacy should win over whatever changed meanwhile.
      run: async (reason) => void (await call('POST', `routes/${encodeURIComponent(route.id)}/flip`, { body: { to: 'legacy', reason } })),
    });
  return (
    <>
      <div class="route-head">
        <div>
          <p class="crumbs">
            <a href="#/">Overview</a> / route
          </p>
          <h1>
            {route.id} <span class={`mode mode-${route.mode}`}>{route.mode}</span>
          </h1>
          <p class="mono">
            {route.pathPrefix} · version {route.version} · modern share {live.status === undefined ? '–' : `${live.status.modernPercent}%`}
          </p>
        </div>
        <button type="button" class="danger big-button" onClick={flip} disabled={route.mode === 'legacy'}>
          Flip to legacy
        </button>
      </div>
      {changeError !== null && <ChangeError error={changeError} onReload={() => void reload().then(() => setChangeError(null))} />}
      {saved !== null && changeError === null && (
        <p class="notice ok" role="status">
          {saved}
        </p>
      )}
      {loadError !== null && <p class="error" role="alert">Could not refresh the route: {loadError}</p>}
      {newer !== null && newer !== route.version && changeError === null && (
        <div class="notice" role="status">
          <p>This route was changed elsewhere: version {newer} is newer than the version {route.version} shown here.</p>
          <button type="button" onClick={() => void reload()}>Reload the route</button>
        </div>
      )}
      <div class="route-grid">
        <SideTable status={live.status} />
        <RouteControls route={route} propose={propose} />
        <BreakerPanel routeId={route.id} breaker={live.breaker} propose={propose} />
        <ShadowPanel routeId={route.id} mode={route.mode} propose={propose} />
        <RolloutPanel routeId={route.id} propose={propose} />
        <RouteSettings route={route} />
      </div>
      <RouteHistory route={route} history={history} propose={propose} />
      {pending !== null && <ConfirmDialog change={pending} onClose={() => setPending(null)} />}
    </>
  );
}

/** The route's row of `/status` and of `/breakers`, read `?after=` the route before it in prefix order. */
async function liveNumbers(id: string): Promise<Live> {
  for (const force of [false, true]) {
    const { entries } = await routeIndex(force);
    const i = entries.findIndex((e) => e.id === id);
    if (i < 0) continue;
    const after = cursorBefore(entries, i);
    const [status, breakers] = await Promise.all([
      get<{ perRoute: RouteStatus[] }>(pageQuery('status', 20, after)),
      get<{ breakers: BreakerView[] }>(pageQuery('breakers', 20, after)),
    ]);
    const found = { status: status.perRoute.find((r) => r.id === id), breaker: breakers.breakers.find((b) => b.routeId === id) };
    if (found.status !== undefined || force) return found;
  }
  return { status: undefined, breaker: undefined };
}
