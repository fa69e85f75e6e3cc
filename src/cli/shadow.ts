import { z } from 'zod';
import type { ShadowReport } from '../shadow/report.js';
import { AdminClient, output, parseCommand } from './client.js';
import { formatTable } from './table.js';

export const SHADOW_USAGE = 'strangler shadow <routeId> [clear]';

/** `strangler shadow <route>`: what shadow mode found on a route; `clear` starts the counts over. */
export async function shadowCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags, args } = parseCommand(argv, env, { flags: [], schema: z.object({}), usage: SHADOW_USAGE, positionals: argv[1] === 'clear' ? 2 : 1 });
  const client = new AdminClient(flags);
  const path = `/routes/${encodeURIComponent(args[0]!)}/shadow`;
  if (args[1] === 'clear') {
    await client.call('DELETE', path);
    output(flags, { cleared: args[0] }, () => `shadow results of ${args[0]} cleared\n`);
    return 0;
  }
  const report = await client.call<ShadowReport>('GET', path);
  output(flags, report, () => formatShadow(report));
  return 0;
}

export function formatShadow(r: ShadowReport): string {
  const rate = r.matchRate === null ? '-' : `${Math.round(r.matchRate * 1000) / 10}%`;
  const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
  const skipped = Object.entries(r.skipped.byReason)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  let text =
    `route ${r.routeId} (mode ${r.mode})${r.since === null ? '' : `, since ${r.since}`}\n` +
    `compared ${r.compared}: matched ${r.matched}, mismatched ${r.mismatched}, errors ${r.errors}; match rate ${rate}\n` +
    `skipped ${r.skipped.total}${skipped === '' ? '' : ` (${skipped})`}\n` +
    `latency on copied requests: legacy p50 ${ms(r.latency.legacy.p50)}, p99 ${ms(r.latency.legacy.p99)}; modern p50 ${ms(r.latency.modern.p50)}, p99 ${ms(r.latency.modern.p99)}\n`;
  if (r.noiseFields.length > 0) text += `noise (learnt, not counted): ${r.noiseFields.join(', ')}\n`;
  if (r.topPaths.length > 0) text += `\n${formatTable(['DIFFERING PATH', 'COUNT'], r.topPaths.map((p) => [p.path, String(p.count)]))}`;
  const [latest] = r.samples;
  if (latest !== undefined) {
    text += `\nlatest mismatch: ${latest.method} ${latest.path} at ${latest.at} (legacy ${latest.legacyStatus}, modern ${latest.modernStatus})\n`;
    text += formatTable(['PATH', 'LEGACY', 'MODERN'], latest.differences.map((d) => [d.path, d.legacy, d.modern]));
  }
  return text;
}
