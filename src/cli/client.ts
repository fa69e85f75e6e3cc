import { hostname, userInfo } from 'node:os';
import { z } from 'zod';
import { UsageError, parseFlags, type FlagSpec } from './args.js';

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9901';

/** Flags every command that talks to the admin API takes. */
export const CLIENT_FLAGS: readonly FlagSpec[] = [
  { key: 'adminUrl', env: 'STRANGLER_ADMIN_URL' },
  // Environment only: a flag would show in `ps` and in shell history.
  { key: 'adminToken', env: 'STRANGLER_ADMIN_TOKEN', envOnly: true },
  { key: 'json', boolean: true },
];

/** Flags of commands that change routes: who and why, stored in the history. */
export const CHANGE_FLAGS: readonly FlagSpec[] = [{ key: 'actor' }, { key: 'reason' }];

export const ClientFlags = z.object({
  adminUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).default(DEFAULT_ADMIN_URL),
  adminToken: z.string().optional(),
  json: z.boolean().default(false),
  actor: z.string().optional(),
  reason: z.string().optional(),
});
export type ClientFlags = z.infer<typeof ClientFlags>;

/** An integer flag such as `--if-version 3`, checked before anything is sent. */
export const IntFlag = z.coerce.number({ error: 'must be an integer' }).int('must be an integer');

/**
 * Parses a command's flags (CLIENT_FLAGS, CHANGE_FLAGS and its own) and checks the number of
 * positional arguments, which `usage` describes.
 */
export function parseCommand<S extends z.ZodObject>(
  argv: string[],
  env: NodeJS.ProcessEnv,
  own: { flags: readonly FlagSpec[]; schema: S; usage: string; positionals: number },
): { flags: z.infer<S> & ClientFlags; args: string[] } {
  const specs = [...CLIENT_FLAGS, ...CHANGE_FLAGS, ...own.flags];
  const { config, positionals } = parseFlags(argv, specs, ClientFlags.extend(own.schema.shape), env);
  if (positionals.length !== own.positionals) throw new UsageError(`usage: ${own.usage}`);
  return { flags: config as z.infer<S> & ClientFlags, args: positionals };
}

/** The admin API over HTTP. Any failure is an Error whose message is ready to print (exit 1). */
export class AdminClient {
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;

  constructor(flags: Pick<ClientFlags, 'adminUrl' | 'adminToken' | 'actor'>) {
    this.baseUrl = flags.adminUrl.replace(/\/+$/, '');
    this.headers = { 'x-actor': flags.actor ?? defaultActor() };
    if (flags.adminToken !== undefined) this.headers.authorization = `Bearer ${flags.adminToken}`;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  /** Every page of a list endpoint (`?limit=&after=`, answering `{ …, next }`), one at a time. */
  async *pages<P extends { next: string | null }>(path: string): AsyncGenerator<P> {
    for (let after: string | null = null; ; ) {
      const page: P = await this.get<P>(after === null ? path : `${path}?after=${encodeURIComponent(after)}`);
      yield page;
      if (page.next === null || page.next === undefined) return;
      after = page.next;
    }
  }

  /** Every item under `key` of a list endpoint, from all its pages. */
  async all<T>(path: string, key: string): Promise<T[]> {
    const items: T[] = [];
    for await (const page of this.pages<{ next: string | null } & Record<string, unknown>>(path)) items.push(...(page[key] as T[]));
    return items;
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = this.baseUrl + path;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new Error(`cannot reach the admin API at ${this.baseUrl} (${cause}); is the gateway running? Set --admin-url or STRANGLER_ADMIN_URL`);
    }
    const text = await res.text();
    const parsed = parseJson(text);
    if (!res.ok) throw new Error(errorMessage(res, parsed, text));
    return parsed as T;
  }
}

/** The API's own message and code, as is; anything else (a proxy's HTML page) by its status. */
function errorMessage(res: Response, parsed: unknown, text: string): string {
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof error?.message === 'string') return typeof error.code === 'string' ? `${error.message} (${error.code})` : error.message;
  return `HTTP ${res.status} ${res.statusText} from ${res.url}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** `user@host`, reduced to what the API's X-Actor accepts (printable ASCII, 128 characters). */
export function defaultActor(): string {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  const actor = `${user || process.env.USER || 'unknown'}@${hostname()}`;
  return actor.replace(/[^\x20-\x7e]/g, '?').slice(0, 128);
}

/** Writes `value` as JSON (for `--json`) or the human text. */
export function output(flags: Pick<ClientFlags, 'json'>, value: unknown, human: () => string): void {
  process.stdout.write(flags.json ? JSON.stringify(value, null, 2) + '\n' : human());
}
