/**
 * The autocannon load generator, run as its own process (pinned next to the backend) so its
 * CPU never competes with the bench driver. Usage: load-worker '<LoadSpec JSON>'.
 * Prints one line "LOAD_JSON {...}" with a RawLoadResult.
 *
 * Latency percentiles are computed here from every response's own float time: autocannon's
 * histogram keeps whole milliseconds, too coarse for sub-millisecond proxy overhead.
 */
import autocannon from 'autocannon';
import { exitWithParent } from './procs.js';
import type { LoadSpec, RawLoadResult } from './load.js';

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;

// The same request rotation as wrk.lua: USERS requests, one per x-user-id, each pre-encoded
// once by autocannon and sent round-robin on every connection.
const requests = Array.from({ length: spec.users }, (_, i) => ({
  method: 'GET' as const,
  headers: { 'x-user-id': `user-${i + 1}` },
}));

let latencies = new Float64Array(1 << 16);
let count = 0;

const instance = autocannon(
  {
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    pipelining: 1,
    timeout: 10,
    requests,
  },
  (err, result) => {
    if (err) {
      process.stderr.write(`autocannon failed: ${err}\n`);
      process.exit(1);
    }
    const sorted = latencies.subarray(0, count).sort();
    const out: RawLoadResult = {
      requests: result.requests.total,
      durationS: result.duration,
      bytes: result.throughput.total,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    };
    process.stdout.write(`LOAD_JSON ${JSON.stringify(out)}\n`);
    process.exit(0);
  },
);

instance.on('response', (_client, _status, _bytes, responseTime) => {
  if (count === latencies.length) {
    const grown = new Float64Array(latencies.length * 2);
    grown.set(latencies);
    latencies = grown;
  }
  latencies[count++] = responseTime;
});

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

exitWithParent(() => instance.stop());
