/**
 * Every call the dashboard makes goes through here: same origin, JSON, the bearer token from
 * sessionStorage in the Authorization header (never a cookie or the URL), and an `X-Actor`
 * that names the dashboard in the history. Failures become typed errors the views show.
 */

const TOKEN_KEY = 'strangler.adminToken';
const ACTOR = 'dashboard';

/** The admin API answered with an error: its stable code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** No answer at all: the gateway is down, restarting or unreachable. */
export class Unreachable extends Error {}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string): void => sessionStorage.setItem(TOKEN_KEY, value),
  clear: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

type Listener = (event: 'reachable' | 'unreachable' | 'unauthorized') => void;
const listeners = new Set<Listener>();

/** Connectivity and sign-in events, for the banner and the sign-in form. */
export function subscribe(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function emit(event: Parameters<Listener>[0]): void {
  for (const listener of listeners) listener(event);
}

export interface CallOptions {
  body?: unknown;
  /** The route or backend version the change is meant for (sent as If-Match). */
  ifMatch?: number;
  /** A token to try instead of the stored one (the sign-in form). */
  withToken?: string;
}

export async function call<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'x-actor': ACTOR };
  const bearer = options.withToken ?? token.get();
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.ifMatch !== undefined) headers['if-match'] = `"${options.ifMatch}"`;
  let res: Response;
  try {
    res = await fetch(`../${path.replace(/^\//, '')}`, {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    emit('unreachable');
    throw new Unreachable('the admin API did not answer');
  }
  emit('reachable');
  const text = await res.text();
  const parsed: unknown = text === '' ? undefined : safeJson(text);
  if (res.ok) return parsed as T;
  const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
  if (res.status === 401 && options.withToken === undefined) emit('unauthorized');
  throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? res.statusText);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const get = <T>(path: string) => call<T>('GET', path);

/** Every page of a paged list endpoint (`next` cursors), up to `maxPages`. */
export async function getAll<T>(path: string, key: string, maxPages = 100): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let after: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const query: string = after === null ? '' : `${path.includes('?') ? '&' : '?'}after=${encodeURIComponent(after)}`;
    const answer = await get<Record<string, unknown> & { next: string | null }>(path + query);
    items.push(...(answer[key] as T[]));
    after = answer.next;
    if (after === null) return { items, complete: true };
  }
  return { items, complete: false };
}

/** What to tell a person about a failed call. */
export function describe(err: unknown): string {
  if (err instanceof Unreachable) return 'The gateway did not answer. Check that it is running; the dashboard keeps retrying.';
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return String(err);
}
