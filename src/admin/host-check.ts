import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { GatewayError } from '../errors.js';
import { isLoopback } from '../config.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'];
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** `Host: name`, `Host: name:port`, `Host: [v6]` or `Host: [v6]:port`; the name lower-cased, brackets dropped. */
const HOST_HEADER = /^(?:\[([0-9a-f:.]+)\]|([^:[\]@/\s]+))(?::([0-9]{1,5}))?$/i;

/**
 * The host names the admin API answers to. A browser tricked by DNS rebinding sends the
 * attacker's name in `Host`, so refusing unknown names keeps a page on evil.example from
 * driving a loopback admin API. Only the name is compared: the port a client dials may differ
 * from the one the gateway listens on (a container's published port), and it is not what a
 * rebinding attack changes.
 *
 * - the configured admin host itself;
 * - bound to loopback: `localhost`, `127.0.0.1` and `[::1]` as well;
 * - bound to every interface (`0.0.0.0`, `::`): the loopback names, this machine's hostname and
 *   its interface addresses;
 * - anything listed in `--admin-allowed-hosts`; `*` there turns the check off.
 */
export function allowedHostnames(adminHost: string, extra: readonly string[]): ReadonlySet<string> | 'any' {
  if (extra.includes('*')) return 'any';
  const names = new Set(extra.map(normalise));
  const wildcard = WILDCARDS.has(adminHost);
  if (!wildcard) names.add(normalise(adminHost));
  if (wildcard || isLoopback(adminHost)) for (const name of LOOPBACK_NAMES) names.add(name);
  if (wildcard) {
    names.add(normalise(hostname()));
    for (const addresses of Object.values(networkInterfaces())) {
      for (const { address } of addresses ?? []) names.add(normalise(address.split('%')[0]!));
    }
  }
  return names;
}

/** Throws HOST_NOT_ALLOWED unless `header` names one of `allowed`. */
export function checkHost(header: string | undefined, allowed: ReadonlySet<string> | 'any'): void {
  if (allowed === 'any') return;
  const match = header === undefined ? null : HOST_HEADER.exec(header);
  const name = match && normalise(match[1] ?? match[2]!);
  if (name === null || (match![1] !== undefined && isIP(name) !== 6) || !allowed.has(name)) {
    throw new GatewayError(
      'HOST_NOT_ALLOWED',
      `Host ${JSON.stringify((header ?? '').slice(0, 100))} is not served here; add it to --admin-allowed-hosts if it is yours`,
    );
  }
}

function normalise(host: string): string {
  return host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}
