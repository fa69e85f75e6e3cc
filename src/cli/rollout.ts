import { z } from 'zod';
import type { RolloutView } from '../rollout/driver.js';
import { UsageError } from './args.js';
import { AdminClient, output, parseCommand } from './client.js';

export const ROLLOUT_USAGE = 'strangler rollout start|status|pause|resume|abort <routeId> [--force] [--plan JSON]';

const ACTIONS = new Set(['start', 'status', 'pause', 'resume', 'abort']);

/** `strangler rollout <action> <route>`: one call to the rollout endpoints each. */
export async function rolloutCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags, args } = parseCommand(argv, env, {
    flags: [{ key: 'force', boolean: true }, { key: 'plan' }],
    schema: z.object({ force: z.boolean().optional(), plan: z.string().optional() }),
    usage: ROLLOUT_USAGE,
    positionals: 2,
  });
  const [action, id] = args as [string, string];
  if (!ACTIONS.has(action)) throw new UsageError(`rollout: the action must be start, status, pause, resume or abort (got "${action}")`);
  const client = new AdminClient(flags);
  const path = `/routes/${encodeURIComponent(id)}/rollout`;
  const view =
    action === 'status'
      ? await client.call<RolloutView>('GET', path)
      : action === 'start'
        ? await client.call<RolloutView>('POST', path, { force: flags.force ?? false, plan: planOf(flags.plan) })
        : await client.call<RolloutView>('POST', `${path}/${action}`);
  output(flags, view, () => formatRollout(view));
  return 0;
}

function planOf(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError('rollout start: --plan must be a JSON object, e.g. \'{"steps":[10,50,100]}\'');
  }
}

/** `orders: running, step 2 of 5 (5%) since …` then each side's window figures and the verdict. */
export function formatRollout(v: RolloutView): string {
  const side = (name: string, f: RolloutView['window']['modern']) =>
    `  ${name.padEnd(7)} ${f.requests} requests, error rate ${+(f.errorRate * 100).toFixed(2)}%, p99 ${f.p99Ms === null ? '-' : `${f.p99Ms} ms`}`;
  return [
    `${v.routeId}: ${v.status}, step ${v.step + 1} of ${v.plan.steps.length} (${v.percent}%) since ${new Date(v.stepSince).toISOString()}, leader ${v.leader}`,
    side('modern', v.window.modern),
    side('legacy', v.window.legacy),
    `  verdict ${v.verdict === null ? 'none yet' : `${v.verdict.kind}: ${v.verdict.reason}`}`,
    '',
  ].join('\n');
}
