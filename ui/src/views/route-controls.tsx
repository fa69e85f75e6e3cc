import { useEffect, useState } from 'preact/hooks';
import type { Route } from '../../../src/routing/schema.js';
import { call } from '../api.js';
import type { PendingChange } from './confirm-dialog.js';

const MODES = ['legacy', 'canary', 'modern', 'shadow'];
const STAGES = ['legacy', 'shadow', 'canary', 'modern', 'retired'];

/** A labelled selector and the button that proposes the change (disabled while nothing changed). */
function Choice(props: { id: string; label: string; options: string[]; value: string; current: string; button: string; onChange: (v: string) => void }) {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <div class="slider-row">
        <select id={props.id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
          {props.options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
        <button type="submit" disabled={props.value === props.current}>
          {props.button}
        </button>
      </div>
    </>
  );
}

/**
 * The canary slider, the stage selector (the route's lifecycle, under its rules) and the mode
 * selector. Moving them changes nothing; the button opens the confirmation naming the change, and
 * the change carries the version this page shows (If-Match).
 */
export function RouteControls({ route, propose }: { route: Route; propose: (change: PendingChange) => void }) {
  const [percent, setPercent] = useState(route.canaryPercent);
  const [mode, setMode] = useState<string>(route.mode);
  const [stage, setStage] = useState<string>(route.stage);
  const [force, setForce] = useState(false);
  useEffect(() => {
    setPercent(route.canaryPercent);
    setMode(route.mode);
    setStage(route.stage);
    setForce(false);
  }, [route.version, route.canaryPercent, route.mode, route.stage]);

  const patch = (body: Record<string, unknown>) => async (reason: string | undefined) =>
    void (await call('PATCH', `routes/${encodeURIComponent(route.id)}`, { body: { ...body, reason }, ifMatch: route.version }));

  const setCanary = (event: Event) => {
    event.preventDefault();
    const toCanary = route.mode !== 'canary';
    propose({
      title: `Set ${route.id}'s canary to ${percent}%`,
      lines: [
        ...(toCanary ? [`mode: ${route.mode} → canary`] : []),
        `canaryPercent: ${route.canaryPercent}% → ${percent}%`,
        `${percent}% of sticky keys (${route.stickyKey}) go to modern (${route.modernBackend}).`,
      ],
      confirmLabel: `Set canary to ${percent}%`,
      run: patch(toCanary ? { mode: 'canary', canaryPercent: percent } : { canaryPercent: percent }),
    });
  };
  const changeMode = (event: Event) => {
    event.preventDefault();
    propose({
      title: `Change ${route.id}'s mode to ${mode}`,
      lines: [`mode: ${route.mode} → ${mode}`],
      confirmLabel: `Change mode to ${mode}`,
      danger: mode === 'modern',
      run: patch({ mode }),
    });
  };

  const changeStage = (event: Event) => {
    event.preventDefault();
    propose({
      title: `Move ${route.id} to stage ${stage}`,
      lines: [
        `stage: ${route.stage} → ${stage}${force ? ' (force)' : ''}`,
        ...(stage === 'retired' ? ['Retired: modern only; fallback and fall-through to legacy are turned off.'] : []),
      ],
      confirmLabel: `Move to ${stage}`,
      danger: stage === 'modern' || stage === 'retired',
      run: async (reason) =>
        void (await call('POST', `routes/${encodeURIComponent(route.id)}/stage`, { body: { stage, force, reason }, ifMatch: route.version })),
    });
  };

  return (
    <section class="panel" aria-labelledby="controls-title">
      <h2 id="controls-title">Change</h2>
      <form class="control" onSubmit={setCanary}>
        <label for="canary">Canary share to modern</label>
        <div class="slider-row">
          <input
            id="canary"
            type="range"
            min={0}
            max={100}
            step={1}
            value={percent}
            aria-valuetext={`${percent}%`}
            onInput={(e) => setPercent(Number((e.target as HTMLInputElement).value))}
          />
          <output for="canary" class="num">{percent}%</output>
        </div>
        <button type="submit" disabled={route.mode === 'canary' ? percent === route.canaryPercent : percent === 0}>
          Set canary…
        </button>
      </form>
      <form class="control" onSubmit={changeStage}>
        <Choice id="stage" label="Stage" options={STAGES} value={stage} current={route.stage} button="Move stage…" onChange={setStage} />
        <label class="check">
          <input type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} /> force (skip a stage, or leave retired)
        </label>
      </form>
      <form class="control" onSubmit={changeMode}>
        <Choice id="mode" label="Mode" options={MODES} value={mode} current={route.mode} button="Change mode…" onChange={setMode} />
      </form>
    </section>
  );
}
