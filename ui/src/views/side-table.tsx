import type { RouteStatus } from '../../../src/observe/status.js';
import { count } from '../format.js';
import { SideCells, SideHeaders } from './side-cells.js';

/** The route's two sides over the status window, one row each. */
export function SideTable({ status }: { status: RouteStatus | undefined }) {
  const row = (name: 'legacy' | 'modern') => {
    const side = status?.[name];
    return (
      <tr data-side={name}>
        <th scope="row">
          {name} <span class="sub">{status?.[`${name}Backend`]}</span>
        </th>
        <td class="num">{side === undefined ? '–' : count(side.requests)}</td>
        <SideCells side={side} name={name} />
      </tr>
    );
  };
  return (
    <section class="panel wide" aria-labelledby="traffic-title">
      <h2 id="traffic-title">Traffic (status window)</h2>
      <div class="scroll">
        <table class="sides">
          <thead>
            <tr>
              <th scope="col">Side</th>
              <th scope="col" class="num">Requests</th>
              <SideHeaders />
            </tr>
          </thead>
          <tbody>
            {row('legacy')}
            {row('modern')}
          </tbody>
        </table>
      </div>
    </section>
  );
}
