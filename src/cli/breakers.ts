import { z } from 'zod';
import type { BreakerView } from '../admin/breakers.js';
import { UsageError } from './args.js';
import { AdminClient, output, parseCommand } from './client.js';
import { cell, formatTable } from './table.js';

/** `strangler breakers [reset <routeId>]`: what each modern-side breaker is doing; close one by hand. */
export async function breakersCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags, args } = parseCommand(argv, env, {
    flags: [],
    schema: z.object({}),
    usage: 'strangler breakers [reset <routeId>]',
    positionals: argv[0] === 'reset' ? 2 : 0,
  });
  const client = new AdminClient(flags);
  if (args[0] === 'reset') {
    const breaker = await client.call<BreakerView>('POST', `/breakers/${encodeURIComponent(args[1]!)}/reset`);
    output(flags, breaker, () => `breaker of ${breaker.routeId} reset: ${breaker.state}\n`);
    return 0;
  }
  if (args.length > 0) throw new UsageError('usage: strangler breakers [reset <routeId>]');
  const breakers = await client.all<BreakerView>('/breakers', 'breakers');
  output(flags, { breakers }, () =>
    breakers.length === 0
      ? 'no routes, so no breakers\n'
      : formatTable(
          ['ROUTE', 'PREFIX', 'STATE', 'FAILURES', 'CALLS', 'RATE', 'NEXT PROBE'],
          breakers.map((b) => [b.routeId, b.pathPrefix, b.state, String(b.failuresInWindow), String(b.callsInWindow), `${b.failureRatePercent}%`, cell(b.nextProbeAt)]),
        ),
  );
  return 0;
}
