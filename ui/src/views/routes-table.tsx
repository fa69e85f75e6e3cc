import type { RouteStatus } from '../../../src/observe/status.js';
import { DASH, percent } from '../format.js';
import type { IndexEntry } from '../paging.js';
import { SideCells, SideHeaders } from './side-cells.js';

/** `/status` gives a route in shadow mode its comparisons so far (shadow mode, issue 16). */
type WithShadow = RouteStatus & { shadow?: { matchRate: number | null; compared: number } | null };

/** One page of routes; fixed column widths, so refreshed numbers never move the layout. */
export function RoutesTable({ rows, numbers }: { rows: readonly IndexEntry[]; numbers: ReadonlyMap<string, RouteStatus> }) {
  if (rows.length === 0) return <p class="note">No route matches.</p>;
  return (
    <div class="scroll" role="region" tabIndex={0} aria-label="Routes table (scrolls sideways on narrow screens)">
      <table class="routes">
        <colgroup>
          <col class="c-id" />
          <col class="c-prefix" />
          <col class="c-mode" />
          <col class="c-share" />
          <col class="c-breaker" />
          {Array.from({ length: 10 }, (_, i) => (
            <col key={i} class="c-n" />
          ))}
        </colgroup>
        <thead>
          <tr>
            <th scope="col" rowSpan={2}>Route</th>
            <th scope="col" rowSpan={2}>Prefix</th>
            <th scope="col" rowSpan={2}>Mode</th>
            <th scope="col" rowSpan={2} class="num">Modern share</th>
            <th scope="col" rowSpan={2}>Breaker</th>
            <th scope="colgroup" colSpan={5} class="side">Legacy</th>
            <th scope="colgroup" colSpan={5} class="side">Modern</th>
          </tr>
          <tr>
            <SideHeaders />
            <SideHeaders />
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => {
            const n: WithShadow | undefined = numbers.get(row.id);
            // A retired route serves in modern mode: its stage says more.
            const mode = row.stage === 'retired' ? 'retired' : (n?.mode ?? row.mode);
            const shadow = n?.shadow ?? null;
            return (
              <tr key={row.id} data-route={row.id}>
                <th scope="row">
                  <a href={`#/routes/${encodeURIComponent(row.id)}`}>{row.id}</a>
                </th>
                <td class="mono">{row.pathPrefix}</td>
                <td>
                  <span class={`mode mode-${mode}`}>{mode}</span>
                  {shadow !== null && (
                    <span class="sub num" data-col="shadow-match" title={`${shadow.compared} compared`}>
                      {percent(shadow.matchRate)} match
                    </span>
                  )}
                </td>
                <td class="num" data-col="modern-percent">{n === undefined ? DASH : `${n.modernPercent}%`}</td>
                <td>
                  <span class={`breaker breaker-${n?.breaker ?? 'closed'}`}>{n?.breaker ?? DASH}</span>
                </td>
                <SideCells side={n?.legacy} name="legacy" />
                <SideCells side={n?.modern} name="modern" />
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
