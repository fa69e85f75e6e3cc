import { z } from 'zod';
import { diffSettings, leaves } from '../routing/plan.js';
import { settingsOf } from '../routing/route-file.js';
import { DEFAULT_ROUTE_SETTINGS, type HistoryEntry, type Route } from '../routing/schema.js';
import { UsageError, type FlagSpec } from './args.js';
import { AdminClient, IntFlag, output, parseCommand } from './client.js';
import { cell, formatPairs, formatTable } from './table.js';

export const ROUTES_USAGE = `strangler routes list
  strangler routes get <id>
  strangler routes add <id> --prefix /path [setting flags]
  strangler routes set <id> [setting flags] [--if-version N]
  strangler routes flip <id> legacy|modern|canary [--if-version N]
  strangler routes stage <id> legacy|shadow|canary|modern|retired [--force] [--if-version N]
  strangler routes rollback <id> [--to-version N] [--if-version N]
  strangler routes history <id>
  strangler routes rm <id> [--if-version N]`;

/** Flags that map onto route settings; anything else goes through `--set path=value`. */
const SETTING_FLAGS: readonly FlagSpec[] = [
  { key: 'prefix' },
  { key: 'mode' },
  { key: 'canaryPercent' },
  { key: 'stickyKey' },
  { key: 'timeoutMs' },
  { key: 'legacyBackend' },
  { key: 'modernBackend' },
  { key: 'set', multiple: true },
];

const SettingFlags = z.object({
  prefix: z.string().optional(),
  mode: z.string().optional(),
  canaryPercent: IntFlag.optional(),
  stickyKey: z.string().optional(),
  timeoutMs: IntFlag.optional(),
  legacyBackend: z.string().optional(),
  modernBackend: z.string().optional(),
  set: z.array(z.string()).optional(),
});

const IfVersion = { flags: [{ key: 'ifVersion' }], schema: z.object({ ifVersion: IntFlag.optional() }) } as const;

type Handler = (argv: string[], env: NodeJS.ProcessEnv) => Promise<number>;

/** `strangler routes <subcommand>`: one admin API call each. */
export async function routesCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [sub, ...rest] = argv;
  const handler = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (handler === undefined) throw new UsageError(`usage: strangler routes ${Object.keys(SUBCOMMANDS).join('|')} …; see strangler --help`);
  return handler(rest, env);
}

const SUBCOMMANDS: Record<string, Handler> = {
  async list(argv, env) {
    const { flags } = parseCommand(argv, env, { flags: [], schema: z.object({}), usage: 'strangler routes list', positionals: 0 });
    const routes = await new AdminClient(flags).all<Route>('/routes', 'routes');
    output(flags, { routes }, () =>
      routes.length === 0
        ? 'no routes (everything goes to legacy)\n'
        : formatTable(
            ['ID', 'PREFIX', 'STAGE', 'MODE', 'CANARY', 'VERSION', 'UPDATED'],
            routes.map((r) => [r.id, r.pathPrefix, r.stage, r.mode, r.mode === 'canary' ? `${r.canaryPercent}%` : '-', String(r.version), r.updatedAt]),
          ),
    );
    return 0;
  },

  async get(argv, env) {
    const { flags, args } = parseCommand(argv, env, { flags: [], schema: z.object({}), usage: 'strangler routes get <id>', positionals: 1 });
    const route = await new AdminClient(flags).get<Route>(`/routes/${encodeURIComponent(args[0]!)}`);
    output(flags, route, () => formatPairs([...leaves({ id: route.id, ...settingsOf(route), version: route.version, createdAt: route.createdAt, updatedAt: route.updatedAt })].map(([k, v]) => [k, cell(v)])));
    return 0;
  },

  async add(argv, env) {
    const { flags, args } = parseCommand(argv, env, {
      flags: SETTING_FLAGS,
      schema: SettingFlags,
      usage: 'strangler routes add <id> --prefix /path [--mode M] [--canary-percent N] [--sticky-key K] [--timeout-ms N] [--set path=value]…',
      positionals: 1,
    });
    if (flags.prefix === undefined) throw new UsageError('routes add: --prefix is required');
    const body = { id: args[0], ...settingsBody(flags), reason: flags.reason };
    return printChange(flags, await new AdminClient(flags).call<Route>('POST', '/routes', body));
  },

  async set(argv, env) {
    const { flags, args } = parseCommand(argv, env, {
      flags: [...SETTING_FLAGS, ...IfVersion.flags],
      schema: SettingFlags.extend(IfVersion.schema.shape),
      usage: 'strangler routes set <id> [--prefix P] [--mode M] [--canary-percent N] [--sticky-key K] [--timeout-ms N] [--set path=value]… [--if-version N]',
      positionals: 1,
    });
    const changes = settingsBody(flags);
    if (Object.keys(changes).length === 0) throw new UsageError('routes set: nothing to change; give a setting flag or --set path=value');
    const body = { ...changes, version: flags.ifVersion, reason: flags.reason };
    return printChange(flags, await new AdminClient(flags).call<Route>('PATCH', routePath(args[0]!), body));
  },

  async flip(argv, env) {
    const { flags, args } = parseCommand(argv, env, { ...IfVersion, usage: 'strangler routes flip <id> legacy|modern|canary [--if-version N]', positionals: 2 });
    const [id, to] = args as [string, string];
    const client = new AdminClient(flags);
    const common = { version: flags.ifVersion, reason: flags.reason };
    // The API's flip is the one-call move to a backend; back to canary is a settings change.
    if (to === 'canary') return printChange(flags, await client.call<Route>('PATCH', routePath(id), { mode: 'canary', ...common }));
    if (to !== 'legacy' && to !== 'modern') throw new UsageError(`routes flip: the target must be legacy, modern or canary (got "${to}")`);
    return printChange(flags, await client.call<Route>('POST', `${routePath(id)}/flip`, { to, ...common }));
  },

  async stage(argv, env) {
    const { flags, args } = parseCommand(argv, env, {
      flags: [...IfVersion.flags, { key: 'force', boolean: true }],
      schema: IfVersion.schema.extend({ force: z.boolean().optional() }),
      usage: 'strangler routes stage <id> legacy|shadow|canary|modern|retired [--force] [--if-version N]',
      positionals: 2,
    });
    const [id, stage] = args as [string, string];
    const body = { stage, force: flags.force ?? false, version: flags.ifVersion, reason: flags.reason };
    return printChange(flags, await new AdminClient(flags).call<Route>('POST', `${routePath(id)}/stage`, body));
  },

  async rollback(argv, env) {
    const { flags, args } = parseCommand(argv, env, {
      flags: [...IfVersion.flags, { key: 'toVersion' }],
      schema: IfVersion.schema.extend({ toVersion: IntFlag.optional() }),
      usage: 'strangler routes rollback <id> [--to-version N] [--if-version N]',
      positionals: 1,
    });
    const body = { toVersion: flags.toVersion, version: flags.ifVersion, reason: flags.reason };
    return printChange(flags, await new AdminClient(flags).call<Route>('POST', `${routePath(args[0]!)}/rollback`, body));
  },

  async history(argv, env) {
    const { flags, args } = parseCommand(argv, env, { flags: [], schema: z.object({}), usage: 'strangler routes history <id>', positionals: 1 });
    const { history } = await new AdminClient(flags).get<{ history: HistoryEntry[] }>(`${routePath(args[0]!)}/history`);
    output(flags, { history }, () =>
      formatTable(
        ['VERSION', 'ACTION', 'AT', 'ACTOR', 'REASON', 'CHANGES'],
        history.map((h) => [String(h.version), h.action, h.at, h.actor, cell(h.reason), describeHistoryChange(h)]),
      ),
    );
    return 0;
  },

  async rm(argv, env) {
    const { flags, args } = parseCommand(argv, env, { ...IfVersion, usage: 'strangler routes rm <id> [--if-version N]', positionals: 1 });
    await new AdminClient(flags).call('DELETE', routePath(args[0]!), { version: flags.ifVersion, reason: flags.reason });
    output(flags, { deleted: args[0] }, () => `deleted route ${args[0]}\n`);
    return 0;
  },
};

function routePath(id: string): string {
  return `/routes/${encodeURIComponent(id)}`;
}

/** The request body the setting flags describe; `--set` builds nested fields (`resilience.retries=2`). */
export function settingsBody(flags: Partial<z.infer<typeof SettingFlags>>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const assignment of flags.set ?? []) setPath(body, assignment);
  const named = {
    pathPrefix: flags.prefix,
    mode: flags.mode,
    canaryPercent: flags.canaryPercent,
    stickyKey: flags.stickyKey,
    timeoutMs: flags.timeoutMs,
    legacyBackend: flags.legacyBackend,
    modernBackend: flags.modernBackend,
  };
  for (const [key, value] of Object.entries(named)) if (value !== undefined) body[key] = value;
  return body;
}

/**
 * Applies `path=value` to `target`. The value is read as JSON when it parses (numbers, booleans,
 * null, arrays such as `[404,501]`), else as a string; the API validates it either way.
 */
function setPath(target: Record<string, unknown>, assignment: string): void {
  const match = /^([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)=(.*)$/s.exec(assignment);
  if (match === null) throw new UsageError(`--set: expected path=value such as resilience.retries=2 (got "${assignment}")`);
  const keys = match[1]!.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = (node[key] = typeof next === 'object' && next !== null ? next : {}) as Record<string, unknown>;
  }
  node[keys.at(-1)!] = parseValue(match[2]!);
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function printChange(flags: { json: boolean }, route: Route): number {
  output(flags, route, () => `${describeRoute(route)}\n`);
  return 0;
}

/** `orders v3: /orders → canary 10% modern`. */
export function describeRoute(route: Route): string {
  const modern = route.modernBackend === DEFAULT_ROUTE_SETTINGS.modernBackend ? 'modern' : `modern (${route.modernBackend})`;
  const where = route.mode === 'canary' ? `canary ${route.canaryPercent}% ${modern}` : route.mode === 'modern' ? modern : 'legacy';
  return `${route.id} v${route.version}: ${route.pathPrefix} → ${where}${route.stage === 'retired' ? ' (retired)' : ''}`;
}

/** What one history entry changed, field by field. */
function describeHistoryChange(entry: HistoryEntry): string {
  if (entry.before === null) return 'created';
  if (entry.after === null) return 'deleted';
  return diffSettings(settingsOf(entry.before), settingsOf(entry.after))
    .map((c) => `${c.field} ${cell(c.from)} → ${cell(c.to)}`)
    .join(', ') || '(no change)';
}
