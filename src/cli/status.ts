import { z } from 'zod';
import type { MigrationStatus, RouteStatus } from '../observe/status.js';
import type { SideSummary } from '../observe/traffic-window.js';
import { AdminClient, output, parseCommand } from './client.js';
import { formatTable } from './table.js';

/** `strangler status`: the migration at a glance, a line per route side in use. */
export async function statusCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags } = parseCommand(argv, env, { flags: [], schema: z.object({}), usage: 'strangler status', positionals: 0 });
  // The totals come with every page; the routes are gathered from all of them.
  let status: MigrationStatus | undefined;
  for await (const page of new AdminClient(flags).pages<MigrationStatus>('/status')) {
    status = status === undefined ? page : { ...status, perRoute: [...status.perRoute, ...page.perRoute], next: page.next };
  }
  if (status === undefined) throw new Error('GET /status answered nothing');
  output(flags, status, () => formatStatus(status));
  return 0;
}

export function formatStatus(status: MigrationStatus): string {
  const { routes, traffic } = status;
  const header =
    `routes: ${routes.total} (legacy ${routes.legacy}, canary ${routes.canary}, modern ${routes.modern}, shadow ${routes.shadow})\n` +
    `last ${status.coveredSeconds} s: ${traffic.requests} requests (${traffic.ratePerSecond}/s), ${percent(traffic.modernShare)} served by modern\n\n`;
  if (status.perRoute.length === 0) return header + 'no routes yet: everything goes to legacy\n';
  const rows = status.perRoute.flatMap((r) => {
    const sides = (['legacy', 'modern'] as const).filter((side) => r[side].requests > 0 || sendsTo(r, side));
    return sides.map((side, i) => sideRow(r, side, i === 0));
  });
  return header + formatTable(['ROUTE', 'PREFIX', 'MODE', 'MODERN%', 'BREAKER', 'MATCH', 'SIDE', 'BACKEND', 'REQ', 'REQ/S', 'ERRORS', 'P50', 'P99', 'FALLBACK'], rows);
}

/** Whether the route's mode sends traffic to `side`: a side it does not use is shown only if it had traffic. */
function sendsTo(route: RouteStatus, side: 'legacy' | 'modern'): boolean {
  return side === 'legacy' ? route.modernPercent < 100 : route.modernPercent > 0;
}

/** One side of a route; the route's own columns only on its first line. */
function sideRow(route: RouteStatus, side: 'legacy' | 'modern', first: boolean): string[] {
  const s: SideSummary = route[side];
  const own = first ? [route.id, route.pathPrefix ?? '(unmatched)', route.mode, String(route.modernPercent), route.breaker, shadowMatch(route)] : ['', '', '', '', '', ''];
  const idle = s.requests === 0;
  return [
    ...own,
    side,
    side === 'legacy' ? route.legacyBackend : route.modernBackend,
    String(s.requests),
    idle ? '-' : String(s.ratePerSecond),
    idle ? '-' : percent(s.errorRate),
    ms(s.p50Ms),
    ms(s.p99Ms),
    side === 'legacy' || idle ? '-' : percent(s.fallbackRate),
  ];
}

/** A shadow route's match rate and how many copies it rests on; `-` for other routes. */
function shadowMatch(route: RouteStatus): string {
  if (route.shadow === null) return '-';
  return route.shadow.matchRate === null ? `- (${route.shadow.compared})` : `${percent(route.shadow.matchRate)} (${route.shadow.compared})`;
}

function percent(share: number): string {
  return `${Math.round(share * 1000) / 10}%`;
}

function ms(value: number | null): string {
  return value === null ? '-' : `${value} ms`;
}
