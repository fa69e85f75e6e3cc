import type { SideSummary } from '../../../src/observe/traffic-window.js';
import { DASH, ms, percent, rate } from '../format.js';

/** The five numbers of one side, as table cells; a dash when the route has no numbers yet. */
export function SideCells({ side, name }: { side: SideSummary | undefined; name: 'legacy' | 'modern' }) {
  const cell = (col: string, text: string) => (
    <td class="num" data-col={`${name}-${col}`}>
      {side === undefined ? DASH : text}
    </td>
  );
  return (
    <>
      {cell('rate', rate(side?.ratePerSecond ?? 0))}
      {cell('errors', percent(side?.errorRate))}
      {cell('p50', ms(side?.p50Ms))}
      {cell('p99', ms(side?.p99Ms))}
      {cell('fallback', percent(side?.fallbackRate))}
    </>
  );
}

/** The column headers SideCells fills, under a "Legacy" / "Modern" group header. */
export function SideHeaders() {
  return (
    <>
      <th scope="col" class="num">Rate</th>
      <th scope="col" class="num">Errors</th>
      <th scope="col" class="num">p50</th>
      <th scope="col" class="num">p99</th>
      <th scope="col" class="num">Fallback</th>
    </>
  );
}
