import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { runCli, type CliRun } from './cli.js';

/** A gateway in its own process, so its memory can be read apart from the test's. */
export interface ChildGateway {
  proxyUrl: string;
  adminUrl: string;
  run: CliRun;
  /** Resident memory of the gateway process, in MiB (Linux /proc). */
  rssMiB(): number;
  stop(): Promise<void>;
}

export async function startChildGateway(legacy: string, modern: string, db: string, flags: string[] = []): Promise<ChildGateway> {
  const run = runCli([
    'serve',
    ...['--legacy', legacy, '--modern', modern, '--db', db],
    ...['--port', '0', '--host', '127.0.0.1', '--admin-port', '0', '--access-log', 'off', '--shutdown-grace-ms', '500'],
    ...flags,
  ]);
  const listening = await run.waitForLog('gateway listening');
  return {
    proxyUrl: String(listening.proxy),
    adminUrl: String(listening.admin),
    run,
    rssMiB: () => {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${run.child.pid}/status`, 'utf8'))?.[1];
      return Number(kb) / 1024;
    },
    async stop() {
      run.kill();
      await run.exited;
    },
  };
}

export interface Latency {
  count: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

/** Sends `count` GETs to `url` over `concurrency` keep-alive connections; latencies in ms. */
export async function measure(url: string, count: number, concurrency = 8): Promise<Latency> {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, { connections: concurrency });
  const times: number[] = [];
  let errors = 0;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const started = performance.now();
      try {
        const res = await pool.request({ path: pathname, method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 });
        await res.body.dump();
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      times.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  await pool.close();
  times.sort((a, b) => a - b);
  const at = (q: number) => round(times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0);
  return { count, errors, p50: at(0.5), p99: at(0.99), max: round(times.at(-1) ?? 0) };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
