/** The report's notes: how the bench ran, and what shadow mode copied and waited (run.ts collects them). */
import { gatewayCommand } from './configs.js';
import type { LoadGen } from './load.js';
import type { ShadowModern } from './modern.js';
import type { ConfigResult, CopyCounts } from './report.js';

export function notes(results: ConfigResult[], loadgen: LoadGen, gatewayNodeArgs: readonly string[] | undefined, shadowModern: ShadowModern): string[] {
  const logs = results
    .filter((r) => r.accessLogMiB !== undefined)
    .map((r) => `${r.key} ${r.accessLogMiB!.toFixed(1)} MiB`)
    .join(', ');
  return [
    'All configurations forward to the same backend process (node:http, ~100 B JSON / 1 MiB / streamed bodies). ' +
      'Every request carries x-user-id (64 values, round-robin) so all configurations send identical requests. ' +
      "Shadow mode's copies go to a modern of their own at idle priority (SCHED_IDLE) on the client CPU, standing in for modern on its own hosts: " +
      (shadowModern === 'nginx'
        ? 'nginx serving the backend\'s bodies (a second backend process with --shadow-modern=node).'
        : 'a second backend process (nginx is not installed, or --shadow-modern=node).'),
    'gw-twin is gw-legacy again in a second process: how far it lands from gw-legacy is the noise of this run, the band shadow mode is judged in.',
    'gateway: the built CLI (`bin/strangler serve`, pinned to one CPU, so Node runs with --single-threaded), log level info, i.e. one JSON access-log line per request ' +
      '(every feature on), written to a file. nginx: worker_processes 1, buffered access log to a file, proxy_buffering off. ' +
      'bare proxy: fastify + @fastify/http-proxy, no logging.',
    `Access logs written: ${logs || 'none'}.`,
    'RSS is the proxy process (nginx: master + worker). MiB = 1,048,576 bytes.',
    'With 2 cores the backend and the load generator share one core: "direct" and fast proxies (nginx) can be capped by that ' +
      'core rather than by the proxy, so gateway ÷ direct and gateway ÷ nginx overstate the gateway (they are upper bounds).',
    'The 1 MiB runs follow the small-body runs on the same process; a Node proxy is slower for a few seconds after such a ' +
      'switch (full GCs driven by buffer memory), so these numbers sit below a steady large-body stream.',
    loadgen === 'autocannon'
      ? 'autocannon latency percentiles are computed from every response time (float ms), not its whole-millisecond histogram.'
      : 'wrk latency percentiles are wrk’s own (microsecond resolution).',
    '"spread" is (max − min) / median of req/s across rounds; differences smaller than it are noise on this machine.',
    ...(gatewayNodeArgs === undefined ? [] : [`Every gateway ran as \`${gatewayCommand(gatewayNodeArgs).join(' ')} serve\` (--gateway-node-args), not through bin/strangler.`]),
    ...results.filter((r) => r.copies !== undefined).map(copiesNote),
    ...waitNote(results),
  ];
}

/**
 * The A/B's steadier companion to p99: how long each gateway's serving thread waited for the CPU
 * @1c. It counts the gateway's own threads (and the kernel's) taking the core, not the host's noise.
 */
function waitNote(results: readonly ConfigResult[]): string[] {
  const shown = results.filter((r) => ['gw-legacy', 'gw-twin', 'gw-shadow'].includes(r.key) && r.results.small1 !== undefined);
  const waits = shown.map((r) => `${r.key} ${r.results.small1!.runs.map((run) => run.waitUsPerReq?.toFixed(1) ?? '—').join(', ')}`);
  return shown.some((r) => r.key === 'gw-shadow') ? [`Serving thread's wait for a CPU @1c, µs per request by round: ${waits.join('; ')}.`] : [];
}

/** What shadow mode really copied: under a saturated CPU its copy thread falls behind and copies are skipped. */
function copiesNote(r: ConfigResult): string {
  const share = ([kind, c]: [string, CopyCounts | undefined]) =>
    c === undefined ? [] : [`${kind} ${c.compared.toLocaleString('en')} compared, ${c.skipped.toLocaleString('en')} skipped (${((100 * c.compared) / Math.max(1, c.compared + c.skipped)).toFixed(1)}% copied)`];
  return `${r.key} copies over the timed runs (the gateway's shadow counts): ${Object.entries(r.copies!).flatMap(share).join('; ')}.`;
}
