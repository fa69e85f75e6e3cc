/** A PostgreSQL URL as it may be printed: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not parseable as a URL: print nothing of what may follow the scheme's user part.
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/**
 * Connection-level failures: PostgreSQL is down, restarting, unreachable, or dropped us. Such a
 * failure wrote nothing the caller was told about; the store degrades and reconnects.
 */
export function isConnectionError(err: unknown): boolean {
  const { code, message } = err as { code?: string; message?: string };
  if (code !== undefined && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed|not queryable/i.test(message ?? '');
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
]);
