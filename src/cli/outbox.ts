import { z } from 'zod';
import type { EventView } from '../outbox/outbox-store.js';
import type { Webhook } from '../outbox/webhook.js';
import { UsageError } from './args.js';
import { AdminClient, IntFlag, output, parseCommand } from './client.js';
import { cell, formatTable } from './table.js';

export const EVENTS_USAGE = 'strangler events [--undelivered] [--limit N]';
export const WEBHOOKS_USAGE = 'strangler webhooks [add <url> | remove <id>]';

/** `strangler events`: the newest lifecycle events and how far each got to its webhooks. */
export async function eventsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { flags } = parseCommand(argv, env, {
    flags: [{ key: 'undelivered', boolean: true }, { key: 'limit' }],
    schema: z.object({ undelivered: z.boolean().default(false), limit: IntFlag.min(1, 'must be 1 to 1000').max(1000, 'must be 1 to 1000').default(20) }),
    usage: EVENTS_USAGE,
    positionals: 0,
  });
  const page = await new AdminClient(flags).get<{ events: EventView[]; next: string | null }>(`/events?limit=${flags.limit}&undelivered=${flags.undelivered}`);
  output(flags, page, () => formatEvents(page.events, flags.undelivered));
  return 0;
}

export function formatEvents(events: readonly EventView[], undelivered: boolean): string {
  if (events.length === 0) return undelivered ? 'every event has reached every webhook\n' : 'no events yet\n';
  return formatTable(
    ['AT', 'ROUTE', 'KIND', 'FROM', 'TO', 'BY', 'DELIVERED', 'LAST ERROR', 'NEXT TRY'],
    events.map((e) => {
      const pending = e.deliveries.filter((d) => d.deliveredAt === null);
      return [e.at, e.routeId, e.kind, cell(e.fromStage), cell(e.toStage), e.actor, `${e.deliveries.length - pending.length}/${e.deliveries.length}`, cell(pending[0]?.lastError), cell(pending[0]?.nextAttemptAt)];
    }),
  );
}

/** `strangler webhooks`: where events go; add or remove one. */
export async function webhooksCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const action = argv[0];
  const { flags, args } = parseCommand(argv, env, { flags: [], schema: z.object({}), usage: WEBHOOKS_USAGE, positionals: action === 'add' || action === 'remove' ? 2 : 0 });
  const client = new AdminClient(flags);
  if (args[0] === 'add') {
    const webhook = await client.call<Webhook>('POST', '/webhooks', { url: args[1] });
    output(flags, webhook, () => `webhook ${webhook.id} added: ${webhook.url}\n`);
  } else if (args[0] === 'remove') {
    await client.call('DELETE', `/webhooks/${encodeURIComponent(args[1]!)}`);
    output(flags, { removed: args[1] }, () => `webhook ${args[1]} removed\n`);
  } else {
    if (args.length > 0) throw new UsageError(`usage: ${WEBHOOKS_USAGE}`);
    const { webhooks } = await client.get<{ webhooks: Webhook[] }>('/webhooks');
    output(flags, { webhooks }, () =>
      webhooks.length === 0 ? 'no webhooks (add one with --webhook URL or strangler webhooks add URL)\n' : formatTable(['ID', 'URL', 'SOURCE', 'SINCE'], webhooks.map((w) => [w.id, w.url, w.source, w.createdAt])),
    );
  }
  return 0;
}
