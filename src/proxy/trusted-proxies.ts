import { BlockList, isIP } from 'node:net';

/**
 * The peers whose X-Forwarded-* headers the gateway believes (`--trust-proxy`): a comma list of
 * IPv4/IPv6 addresses and CIDR blocks, parsed once. An IPv4 peer seen as `::ffff:a.b.c.d` on a
 * dual-stack socket is checked as the IPv4 address it is.
 */
export class TrustedProxies {
  private constructor(private readonly list: BlockList) {}

  /** Parses `a.b.c.d, a.b.c.d/n, ::1, fd00::/8`; undefined for an empty list (trust nobody). */
  static parse(value: string): TrustedProxies | undefined {
    const entries = splitList(value);
    if (entries.length === 0) return undefined;
    const list = new BlockList();
    for (const entry of entries) {
      const problem = entryError(entry);
      if (problem !== undefined) throw new RangeError(problem);
      const [address, bits] = entry.split('/') as [string, string | undefined];
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (bits === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(bits), family);
    }
    return new TrustedProxies(list);
  }

  trusts(address: string | undefined): boolean {
    if (address === undefined) return false;
    if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) return this.list.check(address.slice(7), 'ipv4');
    return this.list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
}

/** Why a `--trust-proxy` value is not a list of addresses and CIDRs, or undefined when it is. */
export function trustListError(value: string): string | undefined {
  for (const entry of splitList(value)) {
    const problem = entryError(entry);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function entryError(entry: string): string | undefined {
  const [address, bits, extra] = entry.split('/');
  const version = isIP(address ?? '');
  const bad = `"${entry}" is not an IP address or CIDR block`;
  if (version === 0 || extra !== undefined) return bad;
  if (bits === undefined) return undefined;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > (version === 4 ? 32 : 128)) return bad;
  return undefined;
}
