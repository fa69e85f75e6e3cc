import { describe, expect, it } from 'vitest';
import { ServeConfig } from '../../src/config.js';
import { TrustedProxies, trustListError } from '../../src/proxy/trusted-proxies.js';

describe('TrustedProxies', () => {
  const list = TrustedProxies.parse(' 10.0.0.0/8, 192.168.1.7 ,fd00::/8, ::1')!;

  it.each([
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['fd12::1', true],
    ['fe80::1', false],
    ['::1', true],
    ['127.0.0.1', false],
  ])('%s trusted: %s', (address, trusted) => {
    expect(list.trusts(address)).toBe(trusted);
  });

  it('trusts nobody for an empty list, and no undefined peer', () => {
    expect(TrustedProxies.parse('')).toBeUndefined();
    expect(TrustedProxies.parse(' , ')).toBeUndefined();
    expect(list.trusts(undefined)).toBe(false);
  });

  it.each(['10.0.0.0/33', 'fd00::/129', 'example.com', '10.0.0.1/8/1', '10.0.0/8', '1.2.3.4/x', '::1/-1'])('refuses %s', (entry) => {
    expect(trustListError(`127.0.0.1,${entry}`)).toContain(entry);
    expect(() => TrustedProxies.parse(entry)).toThrow(RangeError);
  });

  it('is validated by the serve config', () => {
    const base = { legacy: 'http://l', modern: 'http://m' };
    expect(ServeConfig.parse({ ...base, trustProxy: '10.0.0.0/8' }).trustProxy).toBe('10.0.0.0/8');
    expect(ServeConfig.safeParse({ ...base, trustProxy: '10.0.0.0/40' }).success).toBe(false);
    expect(ServeConfig.safeParse({ ...base, headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 }).success).toBe(false);
  });
});
