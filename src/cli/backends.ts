import { z } from 'zod';
import { backendSettingsOf, type BackendHistoryEntry, type BackendView } from '../backends/schema.js';
import { diffSettings, leaves } from '../routing/diff.js';
import { UsageError, type FlagSpec } from './args.js';
import { AdminClient, IntFlag, output, parseCommand } from './client.js';
import { settingsBody } from './routes.js';
import { cell, formatPairs, formatTable } from './table.js';

export const BACKENDS_USAGE = `strangler backends list
  strangler backends get <name>
  strangler backends add <name> --url URL [--role legacy|modern] [setting flags]
  strangler backends set <name> [setting flags] [--if-version N]
  strangler backends history <name>
  strangler backends rm <name> [--if-version N]`;

/** Flags that map onto backend settings; anything else goes through `--set path=value`. */
const SETTING_FLAGS: readonly FlagSpec[] = [{ key: 'url' }, { key: 'role' }, { key: 'maxInFlight' }, { key: 'set', multiple: true }];

const SettingFlags = z.object({
  url: z.string().optional(),
  role: z.string().optional(),
  maxInFlight: IntFlag.optional(),
  set: z.array(z.string()).optional(),
});

const IfVersion = { flags: [{ key: 'ifVersion' }], schema: z.object({ ifVersion: IntFlag.optional() }) } as const;
const NONE = { flags: [], schema: z.object({}) } as const;

type Handler = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

/** `strangler backends <subcommand>`: one admin API call each. */
export async function backendsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = argv;
  const handler = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (handler === undefined) throw new UsageError(`usage: strangler backends ${Object.keys(SUBCOMMANDS).join('|')} …; see strangler --help`);
  return handler(rest, env);
}

const SUBCOMMANDS: Record<string, Handler> = {
  async list(argv, env) {
    const { flags } = parseCommand(argv, env, { ...NONE, usage: 'strangler backends list', positionals: 0 });
    const { backends } = await new AdminClient(flags).get<{ backends: BackendView[] }>('/backends');
    output(flags, { backends }, () =>
      formatTable(
        ['NAME', 'ROLE', 'URL', 'IN FLIGHT', 'ROUTES', 'VERSION'],
        backends.map((b) => [b.name, b.role, b.url, `${b.inFlight}/${b.maxInFlight}`, b.routes.length === 0 ? '-' : b.routes.join(','), String(b.version)]),
      ),
    );
    return 0;
  },

  async get(argv, env) {
    const { flags, args } = parseCommand(argv, env, { ...NONE, usage: 'strangler backends get <name>', positionals: 1 });
    const b = await new AdminClient(flags).get<BackendView>(backendPath(args[0]!));
    const shown = { name: b.name, ...backendSettingsOf(b), inFlight: b.inFlight, routes: b.routes, version: b.version, createdAt: b.createdAt, updatedAt: b.updatedAt };
    output(flags, b, () => formatPairs([...leaves(shown)].map(([k, v]) => [k, cell(v)])));
    return 0;
  },

  async add(argv, env) {
    const { flags, args } = parseCommand(argv, env, {
      flags: SETTING_FLAGS,
      schema: SettingFlags,
      usage: 'strangler backends add <name> --url URL [--role legacy|modern] [--max-in-flight N] [--set path=value]…',
      positionals: 1,
    });
    if (flags.url === undefined) throw new UsageError('backends add: --url is required');
    const body = { name: args[0], ...backendBody(flags), reason: flags.reason };
    return printChange(flags, await new AdminClient(flags).call<BackendView>('POST', '/backends', body));
  },

  async set(argv, env) {
    const { flags, args } = parseCommand(argv, env, {
      flags: [...SETTING_FLAGS, ...IfVersion.flags],
      schema: SettingFlags.extend(IfVersion.schema.shape),
      usage: 'strangler backends set <name> [--url URL] [--role R] [--max-in-flight N] [--set path=value]… [--if-version N]',
      positionals: 1,
    });
    const changes = backendBody(flags);
    if (Object.keys(changes).length === 0) throw new UsageError('backends set: nothing to change; give a setting flag or --set path=value');
    const body = { ...changes, version: flags.ifVersion, reason: flags.reason };
    return printChange(flags, await new AdminClient(flags).call<BackendView>('PATCH', backendPath(args[0]!), body));
  },

  async history(argv, env) {
    const { flags, args } = parseCommand(argv, env, { ...NONE, usage: 'strangler backends history <name>', positionals: 1 });
    const { history } = await new AdminClient(flags).get<{ history: BackendHistoryEntry[] }>(`${backendPath(args[0]!)}/history`);
    output(flags, { history }, () =>
      formatTable(
        ['VERSION', 'ACTION', 'AT', 'ACTOR', 'REASON', 'CHANGES'],
        history.map((h) => [String(h.version), h.action, h.at, h.actor, cell(h.reason), describeChange(h)]),
      ),
    );
    return 0;
  },

  async rm(argv, env) {
    const { flags, args } = parseCommand(argv, env, { ...IfVersion, usage: 'strangler backends rm <name> [--if-version N]', positionals: 1 });
    await new AdminClient(flags).call('DELETE', backendPath(args[0]!), { version: flags.ifVersion, reason: flags.reason });
    output(flags, { deleted: args[0] }, () => `deleted backend ${args[0]}\n`);
    return 0;
  },
};

function backendPath(name: string): string {
  return `/backends/${encodeURIComponent(name)}`;
}

/** The request body the flags describe; `--set` builds nested fields (`retryBudget.percent=10`). */
function backendBody(flags: z.infer<typeof SettingFlags>): Record<string, unknown> {
  const body = settingsBody({ set: flags.set });
  const named = { url: flags.url, role: flags.role, maxInFlight: flags.maxInFlight };
  for (const [key, value] of Object.entries(named)) if (value !== undefined) body[key] = value;
  return body;
}

function printChange(flags: { json: boolean }, b: BackendView): number {
  output(flags, b, () => `backend ${b.name} v${b.version}: ${b.role} ${b.url}\n`);
  return 0;
}

function describeChange(entry: BackendHistoryEntry): string {
  if (entry.before === null) return 'created';
  if (entry.after === null) return 'deleted';
  return diffSettings(backendSettingsOf(entry.before), backendSettingsOf(entry.after)).map((c) => `${c.field} ${cell(c.from)} → ${cell(c.to)}`).join(', ') || '(no change)';
}
