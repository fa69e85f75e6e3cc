import { parseArgs } from 'node:util';
import type { z } from 'zod';

/** A mistake in how the command was called: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface FlagSpec {
  /** The config key the flag fills, e.g. `adminPort` for `--admin-port`. */
  key: string;
  /** The environment variable that fills it when the flag is absent. */
  env?: string;
  boolean?: boolean;
  /** May be given several times; the value is then an array of strings. */
  multiple?: boolean;
  /** A one-letter alias, e.g. `f` for `-f`. */
  short?: string;
  /** Read from the environment only (secrets: a flag would show in `ps` and shell history). */
  envOnly?: boolean;
}

export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/**
 * Reads flags (which win) and environment variables into an object keyed by config key, then
 * validates it with `schema`. Every failure becomes a one-line UsageError naming the flag.
 */
export function parseFlags<S extends z.ZodType>(
  argv: string[],
  specs: readonly FlagSpec[],
  schema: S,
  env: NodeJS.ProcessEnv,
): { config: z.infer<S>; positionals: string[] } {
  const options = Object.fromEntries(
    specs
      .filter((s) => !s.envOnly)
      .map(
        (s) =>
          [
            flagName(s.key).slice(2),
            { type: s.boolean ? 'boolean' : 'string', multiple: s.multiple ?? false, ...(s.short ? { short: s.short } : {}) },
          ] as const,
      ),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!.replace(/\. To specify.*$/, ''));
  }
  const raw: Record<string, unknown> = {};
  for (const spec of specs) {
    const value = parsed.values[flagName(spec.key).slice(2)] ?? (spec.env ? env[spec.env] : undefined);
    if (value !== undefined && value !== '') raw[spec.key] = value;
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = String(issue.path[0] ?? '');
    const spec = specs.find((s) => s.key === key);
    const where = !spec ? key : spec.envOnly ? spec.env! : flagName(key) + (spec.env ? ` (or ${spec.env})` : '');
    const message = raw[key] === undefined && issue.code === 'invalid_type' ? 'is required' : issue.message;
    const got = raw[key] !== undefined && key !== 'adminToken' ? ` (got ${JSON.stringify(raw[key])})` : '';
    throw new UsageError(`${where}: ${message}${got}`);
  }
  return { config: result.data, positionals: parsed.positionals };
}
